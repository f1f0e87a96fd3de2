"""Cheap, English-looking text: small vocabularies, sentence templates, precomputed pools.

A ``TextPool`` fills a few thousand sentences from templates once per seed; answers and
descriptions are then a handful of ``rng.choice`` calls and a join, which keeps a
108K-image corpus (about 400M words) within minutes. Lengths follow SVIT: questions
6-20 words, answers 30-100 words, detail descriptions 150-250 words in 2-4 paragraphs.
"""

from __future__ import annotations

import random

# Visual Genome-like object names: (singular, plural).
OBJECTS: tuple[tuple[str, str], ...] = (
    ("man", "men"),
    ("woman", "women"),
    ("person", "people"),
    ("child", "children"),
    ("dog", "dogs"),
    ("cat", "cats"),
    ("horse", "horses"),
    ("bird", "birds"),
    ("car", "cars"),
    ("truck", "trucks"),
    ("bus", "buses"),
    ("bicycle", "bicycles"),
    ("motorcycle", "motorcycles"),
    ("train", "trains"),
    ("boat", "boats"),
    ("airplane", "airplanes"),
    ("tree", "trees"),
    ("building", "buildings"),
    ("window", "windows"),
    ("door", "doors"),
    ("sign", "signs"),
    ("clock", "clocks"),
    ("pole", "poles"),
    ("street lamp", "street lamps"),
    ("bench", "benches"),
    ("fence", "fences"),
    ("table", "tables"),
    ("chair", "chairs"),
    ("plate", "plates"),
    ("cup", "cups"),
    ("bottle", "bottles"),
    ("glass", "glasses"),
    ("shirt", "shirts"),
    ("jacket", "jackets"),
    ("hat", "hats"),
    ("shoe", "shoes"),
    ("bag", "bags"),
    ("umbrella", "umbrellas"),
    ("kite", "kites"),
    ("surfboard", "surfboards"),
    ("skateboard", "skateboards"),
    ("laptop", "laptops"),
    ("phone", "phones"),
    ("book", "books"),
    ("lamp", "lamps"),
    ("pillow", "pillows"),
    ("bed", "beds"),
    ("couch", "couches"),
    ("sink", "sinks"),
    ("mirror", "mirrors"),
    ("towel", "towels"),
    ("vase", "vases"),
    ("flower", "flowers"),
    ("plant", "plants"),
    ("rock", "rocks"),
    ("cloud", "clouds"),
    ("wave", "waves"),
    ("giraffe", "giraffes"),
    ("elephant", "elephants"),
    ("zebra", "zebras"),
    ("sheep", "sheep"),
    ("cow", "cows"),
    ("pizza", "pizzas"),
    ("sandwich", "sandwiches"),
    ("banana", "bananas"),
    ("orange", "oranges"),
    ("parking meter", "parking meters"),
    ("traffic light", "traffic lights"),
    ("fire hydrant", "fire hydrants"),
    ("tire", "tires"),
    ("wheel", "wheels"),
    ("helmet", "helmets"),
    ("racket", "rackets"),
    ("ball", "balls"),
    ("crème brûlée", "crèmes brûlées"),
    ("café sign", "café signs"),
)

COLORS = (
    "red",
    "green",
    "blue",
    "white",
    "black",
    "grey",
    "brown",
    "yellow",
    "orange",
    "purple",
    "pink",
    "silver",
    "dark",
    "light blue",
    "beige",
    "golden",
)
SIZES = ("small", "large", "tall", "short", "wide", "narrow", "tiny", "huge", "long", "round")
MATERIALS = ("wooden", "metal", "brick", "glass", "plastic", "stone", "concrete", "leather", "ceramic", "woven")
STATES = (
    "parked",
    "open",
    "closed",
    "empty",
    "crowded",
    "wet",
    "shiny",
    "old",
    "new",
    "clean",
    "weathered",
    "colorful",
    "blurry",
    "bright",
    "shaded",
    "stacked",
)
PLACE_STATES = (
    "busy",
    "quiet",
    "crowded",
    "calm",
    "clean",
    "sunny",
    "well lit",
    "peaceful",
    "lively",
    "tidy",
    "open to the public",
    "under renovation",
)
PLACES = (
    "street",
    "kitchen",
    "park",
    "beach",
    "living room",
    "field",
    "station",
    "market",
    "bathroom",
    "office",
    "playground",
    "harbor",
    "sidewalk",
    "restaurant",
    "garden",
    "parking lot",
    "café",
    "airport",
    "bedroom",
    "ski slope",
)
POSITIONS = (
    "on the left side of the image",
    "on the right side of the image",
    "in the center of the frame",
    "in the background",
    "in the foreground",
    "near the bottom edge",
    "at the top of the picture",
    "towards the far edge",
    "close to the camera",
    "behind the others",
)
PREPOSITIONS = (
    "next to",
    "behind",
    "in front of",
    "above",
    "below",
    "beside",
    "near",
    "on top of",
    "under",
    "across from",
    "along",
    "between the wall and",
)
VERBS = (
    "stands",
    "sits",
    "rests",
    "leans",
    "hangs",
    "waits",
    "appears",
    "stretches",
    "lies",
    "stays",
    "remains",
    "shines",
    "moves",
    "looks",
)
ACTIVITIES = (
    "walking",
    "talking",
    "eating lunch",
    "riding",
    "playing",
    "reading",
    "waiting",
    "shopping",
    "working",
    "relaxing",
    "taking photos",
    "crossing the road",
    "carrying groceries",
    "looking at a phone",
    "holding an umbrella",
)
ABSTRACT = (
    "a busy daily routine",
    "a calm afternoon",
    "an urban setting",
    "a casual gathering",
    "a well-maintained area",
    "a recent rainfall",
    "a warm sunny day",
    "early spring",
    "a popular spot for visitors",
    "a relaxed atmosphere",
    "a sense of order",
    "a friendly neighbourhood",
    "a festive occasion",
    "a long journey ahead",
)
CONNECTORS = (
    "Overall",
    "In addition",
    "Moreover",
    "Nearby",
    "Meanwhile",
    "At the same time",
    "Interestingly",
    "In the background",
    "Furthermore",
    "On closer inspection",
)
SIGN_WORDS = ("STOP", "OPEN", "EXIT", "SALE", "ONE WAY", "NO PARKING", "WELCOME", "BUS ONLY")
TOPICS = (
    "scene overview",
    "people and clothing",
    "objects and colors",
    "spatial layout",
    "activities",
    "vehicles",
    "weather and lighting",
    "food and drink",
)

_STATEMENT_TEMPLATES = (
    "The {c} {o} {v} {p} the {m} {o2}, which suggests {a}.",
    "A {s} {o} {v} {pos}, {p} a {c} {o2}.",
    "There are several {os} {pos}, and some of them look {st}.",
    "{C}, a {st} {o} can be seen {p} the {o2}.",
    "The {place} seems {pst}, with a {c} {o} and a {m} {o2} {pos}.",
    "One of the {os} is {act} while another {o} {v} {p} the {c} {o2}.",
    "Its {c} color stands out against the {m} {o2}, adding a touch of contrast to the {place}.",
    "The {o} is {s} and {c}, and it {v} {p} a {st} {o2} {pos}.",
    "People {pos} are {act}, which gives the {place} {a}.",
    "The lighting makes the {c} {o} look {st}, hinting at {a}.",
    'A sign on the {o} reads "{sign}", so the {place} is probably {pst}.',
    "{C}, the {m} {os} {p} the {o2} show that the {place} is {pst}.",
)
_CONVERSATION_QUESTIONS = (
    "What color is the {o} {pos}?",
    "How many {os} can be seen in the image?",
    "Where is the {o} located in relation to the {o2}?",
    "What is the person near the {o} doing?",
    "Can you describe the {o} in more detail?",
    "What material does the {o} appear to be made of?",
    "Are there any {os} {pos}?",
    "What can you tell me about the {place} in this picture?",
    "Is the {o} {st} or {st2}?",
    "What is {p} the {o} in the image?",
    "Could you tell me more about the {c} {o}?",
    "What kind of {o} is shown {pos}?",
)
_REASONING_QUESTIONS = (
    "Why might the {o} be placed {p} the {o2} in this {place}?",
    "What can be inferred about the {place} from the {st} {o}?",
    "What might be the purpose of the {c} {o} in this setting?",
    "How would the scene change if the {o} were removed from the {place}?",
    "What does the presence of the {os} suggest about the time of day?",
    "What challenges could someone face when {act} near the {o}?",
    "Considering the {o} and the {o2}, what activity is most likely taking place here?",
)
_YES_NO_QUESTIONS = (
    "Is it likely that the {o} is used for {act}?",
    "Could the {o} {p} the {o2} be in the way of people {act}?",
    "Does the {place} appear to be {pst} at the moment?",
    "Is the {c} {o} the main focus of this image?",
    "Would it be safe for a child to play near the {o}?",
)
_QUESTION_TAILS = (
    "",
    "",
    "",
    " in the image",
    " in this picture",
    " based on what you can see in the image",
    " given the surroundings",
)


class TextPool:
    """Sentence and question pools for one seed; every method takes the caller's rng."""

    def __init__(self, rng: random.Random, statements: int = 6000, questions: int = 3000):
        self.statements = [self._fill(rng, rng.choice(_STATEMENT_TEMPLATES)) for _ in range(statements)]
        self.statement_words = [s.count(" ") + 1 for s in self.statements]
        self.lower_statements = [s[0].lower() + s[1:] for s in self.statements]
        self.conversation_questions = [self._question(rng, _CONVERSATION_QUESTIONS) for _ in range(questions)]
        self.reasoning_questions = [self._question(rng, _REASONING_QUESTIONS) for _ in range(questions)]
        self.yes_no_questions = [self._question(rng, _YES_NO_QUESTIONS) for _ in range(questions // 3)]
        self._n = len(self.statements)

    @staticmethod
    def _fill(rng: random.Random, template: str) -> str:
        (o, os_), (o2, _) = rng.choice(OBJECTS), rng.choice(OBJECTS)
        states = rng.sample(STATES, 2)
        text = template.format(
            o=o,
            os=os_,
            o2=o2,
            c=rng.choice(COLORS),
            s=rng.choice(SIZES),
            m=rng.choice(MATERIALS),
            st=states[0],
            st2=states[1],
            place=rng.choice(PLACES),
            pos=rng.choice(POSITIONS),
            p=rng.choice(PREPOSITIONS),
            v=rng.choice(VERBS),
            act=rng.choice(ACTIVITIES),
            pst=rng.choice(PLACE_STATES),
            a=rng.choice(ABSTRACT),
            C=rng.choice(CONNECTORS),
            sign=rng.choice(SIGN_WORDS),
        )
        return text[0].upper() + text[1:]

    def _question(self, rng: random.Random, templates: tuple[str, ...]) -> str:
        q = self._fill(rng, rng.choice(templates))
        tail = rng.choice(_QUESTION_TAILS)
        return q[:-1] + tail + "?" if tail and "image" not in q and "picture" not in q else q

    def sentences(self, rng: random.Random, min_words: int, max_words: int) -> list[str]:
        """Pool sentences adding up to a length drawn from [min_words, max_words]."""
        target = rng.randint(min_words, max_words)
        out: list[str] = []
        words = 0
        statements, counts, n = self.statements, self.statement_words, self._n
        while words < target:
            i = int(rng.random() * n)
            out.append(statements[i])
            words += counts[i]
        return out

    def answer(self, rng: random.Random, min_words: int = 30, max_words: int = 100) -> str:
        """A conversation/reasoning answer of roughly 30-100 words."""
        return " ".join(self.sentences(rng, min_words, max_words))

    def yes_no_answer(self, rng: random.Random, yes: bool) -> str:
        """A long answer opening with "Yes, " or "No, ", as GPT-4 reasoning answers do."""
        first = self.lower_statements[int(rng.random() * self._n)]
        rest = " ".join(self.sentences(rng, 20, 80))
        return ("Yes, " if yes else "No, ") + first + " " + rest

    def description(self, rng: random.Random) -> str:
        """A 150-250 word description in 2-4 paragraphs joined by a newline."""
        sentences = self.sentences(rng, 150, 250)
        paragraphs = min(rng.randint(2, 4), len(sentences))
        size, extra = divmod(len(sentences), paragraphs)
        out, start = [], 0
        for k in range(paragraphs):
            end = start + size + (1 if k < extra else 0)
            out.append(" ".join(sentences[start:end]))
            start = end
        return "\n".join(out)

    def clause(self, rng: random.Random) -> str:
        """One lower-case sentence, for the tail of a referring answer."""
        return self.lower_statements[int(rng.random() * self._n)]

"""Real public records the generator plants in the synthetic corpus (golden records).

Copied from the records in tests/data/golden/ (see PROVENANCE.md there; a test keeps
the two in step). The generator must not read test data at run time, hence this module.
"""

from __future__ import annotations

# Visual Genome image 1: its image_data.json entry and its clock object (VG, via the
# huggingface/datasets visual_genome card).
VG_IMAGE_1 = {
    "image_id": 1,
    "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/1.jpg",
    "width": 800,
    "height": 600,
    "coco_id": None,
    "flickr_id": None,
}

VG_IMAGE_1_CLOCK = {
    "object_id": 1058498,
    "x": 421,
    "y": 91,
    "w": 79,
    "h": 339,
    "names": [
        "clock",
    ],
    "synsets": [
        "clock.n.01",
    ],
}

VG_IMAGE_1_CLOCK_REGION = {
    "region_id": 1382,
    "image_id": 1,
    "phrase": "the clock is green in colour",
    "x": 421,
    "y": 57,
    "width": 82,
    "height": 139,
}

# The sign of DataOptim's svit_referring_0 as integer VG pixels: x=118 y=13 w=88 h=182
# gives exactly [0.147, 0.022, 0.258, 0.325] on the 800x600 image. Ids are ours.
VG_IMAGE_1_SIGN = {
    "object_id": 1058499,
    "x": 118,
    "y": 13,
    "w": 88,
    "h": 182,
    "names": [
        "sign",
    ],
    "synsets": [
        "sign.n.02",
    ],
}

# SVIT's first block of each task on VG image 1, in the ORIGINAL format, rebuilt from
# BAAI-DCAI/DataOptim's LLaVA-style records svit_conversation_0 / svit_complex_0 /
# svit_detail_0 / svit_referring_0: `<image>\n` dropped, human -> user, the referring
# instruction removed and <st>..<ed> put back around the two phrases (where exactly the
# marks stood in BAAI's file is our reconstruction).
IMAGE_1_BLOCKS = {
    "conversation": {
        "content": [
            {
                "from": "user",
                "value": "Can you describe the overall scene in the image?",
            },
            {
                "from": "gpt",
                "value": (
                    "This appears to be an urban scene, with two men conversing on a brick sidewalk. "
                    "There are various objects nearby such as a green clock on a pole, a parking "
                    "meter, and bicycles parked on the sidewalk. A white work truck and other "
                    "vehicles are parked along the street. Trees line the edge of the road and "
                    "buildings, including a white brick building, form the backdrop."
                ),
            },
            {
                "from": "user",
                "value": "What are the men wearing?",
            },
            {
                "from": "gpt",
                "value": (
                    "One man is wearing a red shirt, black pants, and sneakers, while the other man "
                    "is dressed in a grey jacket, grey pants, and brown shoes. One of the men also "
                    "wears glasses."
                ),
            },
            {
                "from": "user",
                "value": "Where are the bicycles located?",
            },
            {
                "from": "gpt",
                "value": (
                    "The bicycles are parked on the sidewalk, near a tree and towards the far edge of the image."
                ),
            },
            {
                "from": "user",
                "value": "Could you tell me more about the green clock?",
            },
            {
                "from": "gpt",
                "value": (
                    "The green clock is located on a pole along the sidewalk. It is tall and quite "
                    "distinct in the scene."
                ),
            },
        ],
    },
    "complex_reasoning": {
        "content": [
            {
                "from": "user",
                "value": "What color is the shirt of the man who's holding his chin?",
            },
            {
                "from": "gpt",
                "value": "The man holding his chin is wearing a red shirt.",
            },
        ],
    },
    "detail_description": {
        "content": [
            {
                "from": "user",
                "value": "Kindly provide a meticulous commentary on the image.",
            },
            {
                "from": "gpt",
                "value": (
                    "The image captures a bustling city street during the day, bathed in sunlight and "
                    "speckled with shadows cast by the surrounding urban environment. On the right "
                    "side of the street, cars are parked along the curb, including a white work truck "
                    "and a white sedan, their headlights are off, suggesting they've been parked "
                    "there for some time.\nTwo men, engaged in conversation, command the center of the "
                    "frame. The man on the left sports glasses, a red shirt, and black pants, along "
                    "with a pair of sneakers. His companion, on the right, dons a grey hoodie and "
                    "grey pants, offset by brown shoes. Both of them appear to be having a relaxed "
                    "chat, one of them even holding his chin thoughtfully.\nNearby, a green pole "
                    "supports a large, green clock, adding a pop of color to the otherwise muted "
                    "urban palette. The clock's ornate design offers a vintage charm that contrasts "
                    "with the modernity of the surrounding area.\nFlanking the street are buildings "
                    "made of bricks, one of them painted white with a black sign on the facade. An "
                    "interesting feature is the tall brick building with multiple windows and a white "
                    "canopy above the entrance. The building appears to be quite old, with visible "
                    "moss and wear.\nThe sidewalk is paved with bricks and houses a yellow-topped "
                    "parking meter and a brown street lamp with a glass top. An older-style coin-fed "
                    "parking meter also makes an appearance, reinforcing the retro vibe of the "
                    "scene.\nThe street and sidewalk are lined with trees, some with sparse foliage, "
                    "perhaps hinting at early spring. Under one such tree, a couple of bicycles are "
                    "securely parked, waiting for their owners to return.\nIn the background, the "
                    "street continues on, dotted with more parked cars and street lamps that lead the "
                    "eye towards more distant buildings. Despite the bustle, the street is "
                    "immaculate, reflecting a well-maintained urban area.\nOverall, the scene portrays "
                    "a typical day in the city, filled with everyday activities like casual "
                    "conversations, parking, and the quiet waiting of bicycles. The mix of retro and "
                    "modern elements adds character to the streetscape, while the bare trees give a "
                    "sense of season and time."
                ),
            },
        ],
    },
    "referring_qa": {
        "content": [
            {
                "from": "user",
                "value": (
                    "Which object is located higher in the image, the <st>clock<ed> [0.526, 0.152, "
                    "0.625, 0.717] or the <st>sign<ed> [0.147, 0.022, 0.258, 0.325]?"
                ),
            },
            {
                "from": "gpt",
                "value": (
                    "The <st>sign<ed> [0.147, 0.022, 0.258, 0.325] is located higher in the image "
                    "compared to the <st>clock<ed> [0.526, 0.152, 0.625, 0.717]."
                ),
            },
        ],
    },
}

# The first record of llava_instruct_150k.json and llava_v1_5_mix665k.json (verbatim).
LLAVA_INSTRUCT_FIRST = {
    "id": "000000033471",
    "image": "coco/train2017/000000033471.jpg",
    "conversations": [
        {
            "from": "human",
            "value": "<image>\nWhat are the colors of the bus in the image?",
        },
        {
            "from": "gpt",
            "value": "The bus in the image is white and red.",
        },
        {
            "from": "human",
            "value": "What feature can be seen on the back of the bus?",
        },
        {
            "from": "gpt",
            "value": "The back of the bus features an advertisement.",
        },
        {
            "from": "human",
            "value": "Is the bus driving down the street or pulled off to the side?",
        },
        {
            "from": "gpt",
            "value": "The bus is driving down the street, which is crowded with people and other vehicles.",
        },
    ],
}

# Excerpts of llava_v1_5_mix665k.json records (truncated: fewer QA pairs than the real ones).
MIX665K_GQA_EXCERPT = {
    "id": 2327515,
    "image": "gqa/images/2327515.jpg",
    "conversations": [
        {
            "from": "human",
            "value": (
                "<image>\nAre there scarves or hats that are yellow?\nAnswer the question using a "
                "single word or phrase."
            ),
        },
        {
            "from": "gpt",
            "value": "Yes",
        },
        {
            "from": "human",
            "value": "Does the man wear shorts?",
        },
        {
            "from": "gpt",
            "value": "No",
        },
    ],
}

MIX665K_OCR_VQA_EXCERPT = {
    "id": "140031996X",
    "image": "ocr_vqa/images/140031996X.jpg",
    "conversations": [
        {
            "from": "human",
            "value": ("<image>\nWho is the author of this book?\nAnswer the question using a single word or phrase."),
        },
        {
            "from": "gpt",
            "value": "H. Jackson Brown",
        },
        {
            "from": "human",
            "value": "What is the title of this book?",
        },
        {
            "from": "gpt",
            "value": (
                "Life's Little Instruction Book: Simple Wisdom and a Little Humor for Living a Happy and Rewarding Life"
            ),
        },
    ],
}

MIX665K_VG_EXCERPT = {
    "id": "VG_100K_2/2412354",
    "image": "vg/VG_100K_2/2412354.jpg",
    "conversations": [
        {
            "from": "human",
            "value": "<image>\nPlease provide a short description for this region: [0.32, 0.8, 0.59, 1.0].",
        },
        {
            "from": "gpt",
            "value": "The cupboards are white.",
        },
        {
            "from": "human",
            "value": (
                "Please provide the bounding box coordinate of the region this sentence "
                "describes: Bathroom floor is dark tiles."
            ),
        },
        {
            "from": "gpt",
            "value": "[0.21, 0.92, 0.36, 1.0]",
        },
        {
            "from": "human",
            "value": (
                "Please provide the bounding box coordinate of the region this sentence describes: Lights of bathroom."
            ),
        },
        {
            "from": "gpt",
            "value": "[0.47, 0.19, 0.68, 0.27]",
        },
    ],
}

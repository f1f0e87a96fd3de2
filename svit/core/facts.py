"""Published facts about SVIT and LLaVA-1.5 that code and tests rely on.

Each constant lives here once; the comment above it names its source.
"""

from __future__ import annotations

# The four SVIT tasks, in the order the LLaVA models list them (docs/models.md).
TASKS: tuple[str, ...] = (
    "conversation",
    "complex_reasoning",
    "detail_description",
    "referring_qa",
)

# Roles in SVIT's original files (data/*.json) and in LLaVA-format files.
SVIT_ROLES: tuple[str, str] = ("user", "gpt")
LLAVA_ROLES: tuple[str, str] = ("human", "gpt")

# The record shapes of LLaVA-family files svit reads (`svit ingest --format`, docs/warehouse.md):
# LLaVA's own (LLaVA-1.5/NeXT/OneVision, InternVL and Qwen records), LLaMA-Factory's ShareGPT
# and TRL's messages with content parts.
LLAVA_FILE_SHAPES: tuple[str, ...] = ("llava", "sharegpt", "messages")

IMAGE_TOKEN = "<image>"
PHRASE_START = "<st>"
PHRASE_END = "<ed>"

# The three instructions appended to referring questions in SVIT's LLaVA files
# (SVIT dataset card; BAAI-DCAI/DataOptim records).
REFERRING_INSTRUCTIONS: tuple[str, ...] = (
    "Provide the bounding boxes of the mentioned objects.",
    "Include the coordinates for each mentioned object.",
    "Locate the objects with their coordinates.",
)

# The 34 detail-description instructions SVIT samples from
# (BAAI-DCAI/Visual-Instruction-Tuning data/questions.txt, CC BY 4.0).
DETAIL_QUESTIONS: tuple[str, ...] = (
    "Can you provide a comprehensive description of the image?",
    "Elaborate on the details of the image.",
    "What are the specifics visible in the image?",
    "Could you offer an in-depth analysis of the image?",
    "Can you depict the image with precise detail?",
    "Give a detailed account of the image.",
    "Explain the image in meticulous detail.",
    "Can you portray the image in words?",
    "Give a thorough narrative of the image.",
    "Please provide an intricate breakdown of the image.",
    "Offer a complete interpretation of the image.",
    "Delve into the particulars of the image.",
    "Explain all the nuances you observe in the image.",
    "Provide a detailed commentary on the image.",
    "Illustrate the image in depth using your words.",
    "Could you give a blow-by-blow description of the image?",
    "Go into detail about the different elements of the image.",
    "Can you dissect the image and describe each element in detail?",
    "Detail the contents of the image extensively.",
    "Can you provide an in-depth explanation of the image?",
    "Provide a comprehensive overview of the image.",
    "Break down the elements of the image in detail.",
    "Can you expound upon the features of the image?",
    "Offer an exhaustive description of the image.",
    "How would you illustrate the image in words?",
    "Please convey the image's details verbally.",
    "Can you detail the contents of the image?",
    "Narrate what you see in the image in depth.",
    "Kindly provide a meticulous commentary on the image.",
    "Share an extensive description of the image.",
    "Could you interpret the image in a detailed manner?",
    "Present a detailed report of the image's features.",
    "Can you provide an intricate depiction of the image?",
    "Disclose every detail you see in the image.",
)

# Visual Genome image folders (image_data.json urls).
VG_FOLDERS: tuple[str, str] = ("VG_100K", "VG_100K_2")

# Published sizes (SVIT dataset card, LLaVA-1.5 README); see docs/formats.md.
VG_IMAGES = 108_077
SVIT_CORE_150K_RECORDS = 157_712
SVIT_CORE_150K_SINGLE_QA = 113_732
LLAVA_MIX665K_RECORDS = 665_298
# Parts of llava_v1_5_mix665k.json: (part, records, image prefix or None for text-only).
LLAVA_MIX665K_PARTS: tuple[tuple[str, int, str | None], ...] = (
    ("llava_instruct", 157_712, "coco/train2017"),
    ("sharegpt", 40_688, None),
    ("vqav2", 82_783, "coco/train2017"),
    ("gqa", 72_140, "gqa/images"),
    ("okvqa", 8_998, "coco/train2017"),
    ("ocr_vqa", 80_000, "ocr_vqa/images"),
    ("a_okvqa", 66_160, "coco/train2017"),
    ("textcaps", 21_953, "textvqa/train_images"),
    ("refcoco", 48_447, "coco/train2017"),
    ("vg", 86_417, "vg"),
)
# The VQA-style suffix LLaVA-1.5 appends to short-answer prompts.
SHORT_ANSWER_SUFFIX = "\nAnswer the question using a single word or phrase."

# The trainers' usual cut-off in tokens per model family (`model_max_length` / `max_seq_length`
# in their fine-tuning scripts): what `svit tokens` and `svit stats` compare lengths to when
# no --max-length is given. Sources in docs/tokens.md.
FAMILY_MAX_LENGTH: dict[str, int] = {
    "llava-1.5": 2048,  # haotian-liu/LLaVA scripts/v1_5/finetune.sh
    "llava-next": 32768,  # LLaVA-NeXT scripts/train/direct_finetune_clip.sh
    "qwen2-vl": 8192,
    "qwen2.5-vl": 8192,
    "internvl": 8192,  # InternVL 2nd-finetune shell scripts (max_seq_length)
}

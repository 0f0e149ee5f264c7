"""mmbind.prompting

Conversation templates and tokenization for inference and training alike, compatible with the original
Video-LLaVA: one template registry (``llava_v1`` for inference, ``vicuna_v1`` as in training, ``plain``
captioning), each template rendering generation prompts and training segments with exact label masks, and
one tokenising module (`tokenize_prompt`: text chunks between media tags tokenized separately, one
placeholder id per tag; `ConversationTokenizer`: training ids and labels checked against it).

    prompt = get_template("llava_v1").prompt("What happens?", media=["video"])
    ids = tokenize_prompt(model.llm.tokenizer, prompt, model.config.placeholder_ids)
"""

from mmbind.prompting.templates import (
    LLAVA_V1,
    PLAIN,
    TEMPLATES,
    VICUNA_SYSTEM,
    VICUNA_V1,
    Conversation,
    Segment,
    get_template,
    render,
)
from mmbind.prompting.tokenize import (
    IGNORE_INDEX,
    ConversationTokenizer,
    Tokenized,
    tokenize_prompt,
    truncate,
)

__all__ = [
    "IGNORE_INDEX",
    "LLAVA_V1",
    "PLAIN",
    "TEMPLATES",
    "VICUNA_SYSTEM",
    "VICUNA_V1",
    "Conversation",
    "ConversationTokenizer",
    "Segment",
    "Tokenized",
    "get_template",
    "render",
    "tokenize_prompt",
    "truncate",
]

"""mmbind.prompting

Inference prompts compatible with the original Video-LLaVA: its conversation templates (``llava_v1`` for
inference, ``vicuna_v1`` as in training) and its tokenization (`tokenize_prompt`: text chunks between
media tags tokenized separately, one placeholder id per tag).

    prompt = get_template("llava_v1").prompt("What happens?", media=["video"])
    ids = tokenize_prompt(model.llm.tokenizer, prompt, model.config.placeholder_ids)
"""

from mmbind.prompting.templates import LLAVA_V1, TEMPLATES, VICUNA_V1, Conversation, get_template
from mmbind.prompting.tokenize import tokenize_prompt

__all__ = ["LLAVA_V1", "TEMPLATES", "VICUNA_V1", "Conversation", "get_template", "tokenize_prompt"]

"""normalize.py

Answer normalisation for exact-match scoring, after the VQA evaluation's rules (lowercase, punctuation
stripped, number words to digits, articles dropped, whitespace collapsed), and POPE's yes/no reading of a
free-form answer exactly as LLaVA-1.5's ``eval_pope.py``: keep the text before the first ".", drop commas,
and answer "no" when one of its space-separated words is "no"/"No"/"not", otherwise "yes" (so an empty
answer counts as "yes", as there).
"""

from __future__ import annotations

import re

NUMBERS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
_PERIOD = re.compile(r"(?<!\d)\.(?!\d)")  # a full stop that is not a decimal point
_PUNCT = re.compile(r"[^\w\s.]|_")  # punctuation other than "." (handled by _PERIOD)
_NEGATIONS = ("no", "No", "not")


def normalize_answer(text: str) -> str:
    """``"The Two."`` -> ``"2"``; ``"Moving  left!"`` -> ``"moving left"``."""
    text = text.lower().replace("\n", " ").replace("\t", " ")
    text = _PERIOD.sub(" ", text)
    text = _PUNCT.sub(lambda m: "" if m.group() == "'" else " ", text)
    words = [NUMBERS.get(w, w) for w in text.split()]
    return " ".join(w for w in words if w not in ARTICLES)


def pope_answer(text: str) -> str:
    """"yes" or "no" for a free-form answer to a POPE question (LLaVA-1.5's rule)."""
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if any(w in words for w in _NEGATIONS) else "yes"

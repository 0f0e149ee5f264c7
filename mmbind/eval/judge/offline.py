"""offline.py

The score used without a judge: a normalised match (`normalize_answer`: lowercase, punctuation and
articles dropped, number words as digits) -- the prediction equals the answer, or contains it as a run of
whole words ("a brown dog" matches "dog"). It is cheap and reproducible but stricter and blunter than
the paper's GPT judge, so its numbers are labelled as not comparable with the paper's.
"""

from __future__ import annotations

from mmbind.eval.normalize import normalize_answer

OFFLINE_LABEL = "offline normalised match (NOT comparable with the paper's GPT-judged accuracy)"


def offline_match(prediction: str, answer: str) -> bool:
    """Whether the normalised answer is the normalised prediction or a run of its words."""
    pred, gold = normalize_answer(prediction), normalize_answer(answer)
    if not gold:
        return not pred
    return pred == gold or f" {gold} " in f" {pred} "

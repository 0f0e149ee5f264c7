"""The text guard: invalid Unicode refused naming the item (as the caller's error type), a prompt that
cannot fit the context refused on its characters before tokenising and on its tokens after."""

from __future__ import annotations

import pytest

from mmbind.errors import DataError, PromptError
from mmbind.prompting.text_guard import CHARS_PER_TOKEN, check_length, check_text, check_tokens


def test_invalid_unicode_is_refused_naming_the_item():
    assert check_text("fine ü", "q1") == "fine ü"
    with pytest.raises(PromptError, match=r"^q1: text is not valid Unicode \(lone surrogate '\\udc80' at "
                                          r"character 4\)$"):
        check_text("bad \udc80", "q1")
    with pytest.raises(DataError, match="sample 3"):
        check_text("\ud800", "sample 3", DataError)
    assert PromptError("x").exit_code == 2


def test_length_is_checked_on_characters_then_tokens():
    check_length("x" * CHARS_PER_TOKEN * 8, 8, "q")
    with pytest.raises(PromptError, match=r"q: the prompt is 513 characters long, more than the model's "
                                          r"context of 8 tokens can hold \(at most 512 characters\)"):
        check_length("x" * 513, 8, "q")
    check_length("x" * 10**6, None, "q")  # no known context: nothing to check
    check_tokens(7, 8, "q")
    with pytest.raises(PromptError, match=r"q: the prompt is 8 tokens long, over the model's context of 8"):
        check_tokens(8, 8, "q")

"""session.py

`ChatSession`: a multi-turn conversation about media (an image, a video, a depth map next to its image,
... or none) with an mmbind model. The media items are read once when the session opens (so an unreadable
file fails before the first question); every turn re-renders the whole conversation with the template
(the media tags in the first user message, as the original) and streams the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.inference.generation import Generator, Query


class ChatSession:
    """History plus the media item of one conversation."""

    def __init__(self, generator: Generator, modality: str | None = None, media: Path | None = None,
                 max_new_tokens: int = 256, also: tuple[tuple[str, Path], ...] = ()) -> None:
        self.generator = generator
        self.modality = modality if media is not None else None
        self.media = media
        self.also = tuple(also)  # further (modality, file) items after the first
        self.max_new_tokens = max_new_tokens
        self.history: list[tuple[str, str]] = []
        if self.modality is not None and media is not None:
            generator.pixels(self.modality, media)  # MediaError / InputError now, not at the first question
        for other, path in self.also:
            generator.pixels(other, path)

    def ask(self, question: str, streamer: Any | None = None) -> str:
        """The answer to ``question`` after the rounds so far (streamed when ``streamer`` is given)."""
        query = Query(question, self.modality, self.media, tuple(self.history), also=self.also)
        if streamer is None:
            answer = self.generator.answer([query], self.max_new_tokens, batch_size=1)[0]
        else:
            answer = self.generator.stream(query, streamer, self.max_new_tokens)
        self.history.append((question, answer))
        return answer

    def reset(self) -> None:
        """Forget earlier rounds (the media item stays)."""
        self.history.clear()

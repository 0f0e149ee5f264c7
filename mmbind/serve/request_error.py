"""request_error.py

`RequestError`: what a client of `mmbind serve` did wrong, with the HTTP status it is answered with (always
a 4xx) and a one-line reason. It is an `mmbind.errors.InputError`, so the same checks raise it whether a
request comes over HTTP or from Python.
"""

from __future__ import annotations

from mmbind.errors import InputError


class RequestError(InputError):
    """A bad request: ``status`` (400-499) and a one-line message."""

    def __init__(self, status: int, message: str, code: str = "invalid_request") -> None:
        if not 400 <= status < 500:
            raise ValueError(f"RequestError status must be a 4xx, got {status}")
        super().__init__(" ".join(message.split()))  # one line, whatever the cause said
        self.status = status
        self.code = code

    def body(self) -> dict[str, dict[str, str | None]]:
        """The error in the OpenAI layout."""
        kind = "authentication_error" if self.status == 401 else "invalid_request_error"
        return {"error": {"message": str(self), "type": kind, "code": self.code, "param": None}}

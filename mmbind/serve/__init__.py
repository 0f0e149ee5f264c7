"""mmbind.serve

`mmbind serve`: an OpenAI-compatible HTTP API (chat completions with images and videos, streaming) and a
web chat page around one model, with concurrent requests generated together in batches.

    from mmbind.serve import ServeSettings, create_app
    app = create_app(model, ServeSettings(), "my-model", template)   # a FastAPI app; run it with uvicorn

Needs the ``serve`` extra (fastapi, uvicorn); importing this package imports them.
"""

from mmbind.serve.app import create_app
from mmbind.serve.background import BackgroundServer
from mmbind.serve.request_error import RequestError
from mmbind.serve.settings import ServeSettings, api_key_from_env

__all__ = ["BackgroundServer", "RequestError", "ServeSettings", "api_key_from_env", "create_app"]

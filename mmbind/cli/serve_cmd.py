"""serve_cmd.py

``mmbind serve TARGET [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--media-root DIR] ...``: serve a run's
last finished stage (or ``--stage``) or an mmbind checkpoint over an OpenAI-compatible HTTP API, with the
web chat page at ``/``. Binds to 127.0.0.1 unless told otherwise; the API key may also come from
``MMBIND_API_KEY``. fastapi and uvicorn (the ``serve`` extra) are imported only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmbind.cli.argtypes import (
    add_frame_args,
    add_media_limit_args,
    frame_sampling,
    media_limits,
    positive_float,
)
from mmbind.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` sub-command."""
    parser = subparsers.add_parser("serve", help="serve a model over an OpenAI-compatible API and a web page")
    parser.add_argument(
        "target", type=Path, help="run directory (last finished stage) or checkpoint directory"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (default: $MMBIND_API_KEY)")
    parser.add_argument("--media-root", type=Path,
                        help="allow local media paths inside this folder (default: data: URIs only)")
    parser.add_argument("--name", help="model name in the API (default: the run or checkpoint folder's name)")
    parser.add_argument("--stage", help="serve this stage's output instead of the last one")
    add_frame_args(parser)
    parser.add_argument("--template", choices=("vicuna_v1", "llava_v1"), help="conversation template")
    parser.add_argument("--max-batch", type=int, default=16, help="requests generated together (default: 16)")
    parser.add_argument(
        "--max-tokens", type=int, default=256, help="cap on a request's max_tokens (default: 256)"
    )
    parser.add_argument(
        "--max-queue", type=int, default=256, help="waiting requests before 429 (default: 256)"
    )
    parser.add_argument("--max-media", type=int, default=1, help="media items per conversation (default: 1)")
    parser.add_argument(
        "--max-body-mb", type=float, default=64, help="request body limit in MB (default: 64)"
    )
    parser.add_argument("--max-media-mb", type=float, default=32, help="media file limit in MB (default: 32)")
    parser.add_argument("--max-decoded-mb", type=positive_float, default=512,
                        help="a request's media once decoded, in MB (default: 512; 413 past it)")
    parser.add_argument("--decode-budget-mb", type=positive_float, default=1024,
                        help="media decoded at once by all requests together, in MB (default: 1024; at least "
                             "--max-decoded-mb)")
    add_media_limit_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model and serve until interrupted."""
    import uvicorn

    import mmbind
    from mmbind.inference import default_template, resolve_target, video_sampling
    from mmbind.prompting import get_template
    from mmbind.serve import ServeSettings, api_key_from_env, create_app
    from mmbind.serve.decode_budget import release_large_blocks

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if min(args.max_batch, args.max_tokens, args.max_queue, args.max_media) < 1:
        raise UsageError("--max-batch, --max-tokens, --max-queue and --max-media must be at least 1")
    if args.media_root is not None and not args.media_root.is_dir():
        raise UsageError(f"--media-root {args.media_root}: no such directory")
    if args.decode_budget_mb < args.max_decoded_mb:
        raise UsageError(f"--decode-budget-mb {args.decode_budget_mb:g} is below --max-decoded-mb "
                         f"{args.max_decoded_mb:g}: one request could never be decoded")
    sampling = frame_sampling(args)
    target = resolve_target(args.target, args.stage)
    model = mmbind.load_pretrained(target.model_dir).eval()
    if model.llm.tokenizer is None:
        raise UsageError(f"{target.model_dir}: the model has no tokenizer; it cannot be served")
    template = get_template(args.template) if args.template else default_template(model)
    name = args.name or (target.run_dir or target.model_dir).resolve().name
    key = api_key_from_env(args.api_key)
    settings = ServeSettings(
        host=args.host, port=args.port, api_key=key, media_root=args.media_root,
        max_body_bytes=int(args.max_body_mb * 2**20), max_media_bytes=int(args.max_media_mb * 2**20),
        max_media=args.max_media, max_tokens=args.max_tokens, default_max_tokens=min(128, args.max_tokens),
        max_batch=args.max_batch, max_queue=args.max_queue, frames=video_sampling(target, model, sampling),
        max_decoded_bytes=int(args.max_decoded_mb * 2**20),
        decode_budget_bytes=int(args.decode_budget_mb * 2**20),
        media_limits=media_limits(args),
    )
    release_large_blocks()
    app = create_app(model, settings, name, template)
    if args.host not in ("127.0.0.1", "localhost", "::1") and key is None:
        print(
            f"warning: listening on {args.host} without an API key (--api-key or $MMBIND_API_KEY)",
            flush=True,
        )
    print(f"serving {name!r} ({target.model_dir}) at http://{args.host}:{args.port}/  (web page: /, "
          f"API: /v1/chat/completions)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0

"""chat_cmd.py

``mmbind chat RUN [--image X | --video Y] [--media KEY=PATH ...] [--prompt P] [--max-new-tokens N]``:
talk to a run's last finished stage (or ``--stage``), or any mmbind checkpoint with a tokenizer (a
converted Video-LLaVA-7B included, prompted with ``llava_v1``), about media of any modality the model has
an encoder for: ``--media depth=map.png`` (repeatable, in tag order; a bare ``--media PATH`` is recognised
by its suffix among the installed media loaders), ``--image`` / ``--video`` as shortcuts. Answers stream
as they are generated. With ``--prompt`` one question is answered and the command exits; otherwise
questions are read from
stdin until ``exit`` or end of input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmbind.cli.argtypes import (
    add_frame_args,
    add_media_limit_args,
    frame_sampling,
    media_limits,
    positive_int,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``chat`` sub-command."""
    parser = subparsers.add_parser("chat", help="chat with a run or checkpoint about an image or a video")
    parser.add_argument("run", type=Path, help="run directory (last finished stage) or checkpoint directory")
    media = parser.add_mutually_exclusive_group()
    media.add_argument("--image", type=Path, help="image file to talk about")
    media.add_argument("--video", type=Path, help="video file to talk about")
    parser.add_argument("--media", action="append", default=[], metavar="KEY=PATH",
                        help="a media file of modality KEY (e.g. depth=map.png); repeat for several; a bare "
                             "PATH is recognised by its suffix")
    parser.add_argument("--prompt", help="ask this one question, print the answer and exit")
    parser.add_argument("--max-new-tokens", type=positive_int, default=256,
                        help="tokens per answer (default: 256)")
    parser.add_argument("--stage", help="use this stage's output instead of the last one")
    add_frame_args(parser)
    add_media_limit_args(parser)
    parser.add_argument("--template", choices=("vicuna_v1", "llava_v1"),
                        help="template (default: llava_v1 for converted Video-LLaVA, else vicuna_v1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open the session, then answer --prompt or chat interactively."""
    import mmbind
    from mmbind.chat import ChatSession, ConsoleStreamer, chat_loop
    from mmbind.inference import Generator, resolve_target, video_sampling
    from mmbind.prompting import get_template

    sampling = frame_sampling(args)
    target = resolve_target(args.run, args.stage)
    model = mmbind.load_pretrained(target.model_dir)
    template = get_template(args.template) if args.template else None
    generator = Generator(model, template, video_sampling(target, model, sampling), limits=media_limits(args))
    items = [("image", args.image)] if args.image else [("video", args.video)] if args.video else []
    items += [media_argument(value, list(model.encoders)) for value in args.media]
    modality, media = items[0] if items else (None, None)
    session = ChatSession(generator, modality, media, args.max_new_tokens, also=tuple(items[1:]))
    streamer = ConsoleStreamer(generator.tokenizer)
    if args.prompt is not None:
        session.ask(args.prompt, streamer)
        return 0
    about = f" about {', '.join(str(path) for _, path in items)}" if items else ""
    print(f"chatting with {target.model_dir}{about} ({generator.template.name}); 'exit' or Ctrl-D ends, "
          "'/reset' forgets earlier rounds", flush=True)
    chat_loop(session, streamer, echo=not sys.stdin.isatty())
    return 0


def media_argument(value: str, modalities: list[str]) -> tuple[str, Path]:
    """``KEY=PATH`` (or a bare ``PATH``, its modality recognised by suffix) as (modality, path);
    `InputError` for a key the model has no encoder for."""
    from mmbind.data.media_readers import guess_modality
    from mmbind.errors import InputError

    key, sep, path = value.partition("=")
    if not sep or "/" in key or "\\" in key or not key:
        return guess_modality(value, modalities), Path(value)
    if key not in modalities:
        known = ", ".join(modalities)
        raise InputError(f"--media {value}: this model has no {key!r} encoder (it has: {known})")
    return key, Path(path)

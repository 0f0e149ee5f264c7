"""demo_cmd.py

``mmbind demo``: composes the tiny Video-LLaVA recipe, runs a forward pass and a batched greedy generation
on a generated image and video, saves and reloads the model, and prints the model summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import mmbind
from mmbind.cli.console import stdout
from mmbind.cli.summary_view import summary_table
from mmbind.demo.synthetic_media import disc_image, moving_square_frames
from mmbind.recipe.paths import resolve_recipe_path

DEFAULT_RECIPE = "tiny/video_llava"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="compose the tiny Video-LLaVA and run it on generated media")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe to compose (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="where the model is saved")
    parser.add_argument("--frames", type=int, default=4, help="frames of the generated video")
    parser.add_argument("--max-new-tokens", type=int, default=8, help="tokens to generate per sample")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    recipe = mmbind.load_recipe(resolve_recipe_path(args.recipe))
    model = mmbind.build_model(recipe).eval()
    stdout.rule(f"[bold]{recipe.name or args.recipe}")
    stdout.print(summary_table(model, title="parts"))

    image = model.encoders["image"].media_transform()(disc_image())
    video = model.encoders["video"].media_transform()(moving_square_frames(args.frames))
    ids = model.config.placeholder_ids
    # Sample 0: "<image> describe", sample 1: "<video> what moves?" (token ids; the tiny LLM has no tokenizer)
    rows = [[1, ids["image"], 11, 12, 13], [1, ids["video"], 21, 22]]
    input_ids, mask = _right_pad(rows)
    with torch.no_grad():
        out = model(input_ids, mask, images=image[None], videos=video[None])
        new = model.generate(
            input_ids, mask, images=image[None], videos=video[None], max_new_tokens=args.max_new_tokens
        )
    lengths = out.attention_mask.sum(1).tolist()
    stdout.print(f"forward: input_ids {tuple(input_ids.shape)} -> logits {tuple(out.logits.shape)}")
    stdout.print(
        f"expanded lengths: image sample {lengths[0]} tokens, video sample {lengths[1]} tokens "
        f"({model.encoders['video'].tokens_per_item(args.frames)} visual tokens for {args.frames} frames)"
    )
    for name, tokens in zip(("image", "video"), new.tolist()):
        stdout.print(f"greedy generation ({name}): {tokens}")

    saved = model.save_pretrained(args.out)
    reloaded = mmbind.load_pretrained(saved)
    again = reloaded.generate(
        input_ids, mask, images=image[None], videos=video[None], max_new_tokens=args.max_new_tokens
    )
    same = torch.equal(again, new)
    stdout.print(f"saved to {saved}; reloaded model generates the same tokens: {same}")
    return 0 if same else 1


def _right_pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask

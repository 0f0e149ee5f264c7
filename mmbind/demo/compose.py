"""compose.py

``mmbind demo --compose-only``: compose a recipe, run a forward pass and a batched greedy generation on a
generated image and video, save and reload the model, and check the reloaded model generates the same.
The model is saved into the demo folder with its ``demo.json`` stamp (`mmbind.output_folder.DEMO`), so a
second call writes over it while a folder of another kind is refused; ``replace``: a folder of another kind
(``--overwrite``) is replaced whole, once the new model is saved.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

import mmbind
from mmbind.cli.console import stdout
from mmbind.cli.summary_view import summary_table
from mmbind.demo.synthetic_media import disc_image, moving_square_frames
from mmbind.output_folder import DEMO, staged_folder
from mmbind.recipe.paths import resolve_recipe_path


def compose_demo(
    recipe_name: str, out: Path, frames: int = 4, max_new_tokens: int = 8, replace: bool = False
) -> bool:
    """Run the compose demo; True when the reloaded model reproduces the generation. ``out`` is checked by
    the caller (`mmbind.output_folder.DEMO_OUT`)."""
    recipe = mmbind.load_recipe(resolve_recipe_path(recipe_name))
    model = mmbind.build_model(recipe).eval()
    stdout.rule(f"[bold]{recipe.name or recipe_name}")
    stdout.print(summary_table(model, title="parts"))

    image = model.encoders["image"].media_transform()(disc_image())
    video = model.encoders["video"].media_transform()(moving_square_frames(frames))
    ids = model.config.placeholder_ids
    rows = [[1, ids["image"], 11, 12, 13], [1, ids["video"], 21, 22]]  # token ids: no tokenizer needed
    input_ids = torch.zeros(2, 5, dtype=torch.long)
    mask = torch.zeros(2, 5, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
    media = {"images": image[None], "videos": video[None]}
    with torch.no_grad():
        out_fwd = model(input_ids, mask, **media)
    new = model.generate(input_ids, mask, **media, max_new_tokens=max_new_tokens)
    lengths = out_fwd.attention_mask.sum(1).tolist()
    stdout.print(f"forward: input_ids {tuple(input_ids.shape)} -> logits {tuple(out_fwd.logits.shape)}")
    stdout.print(
        f"expanded lengths: image sample {lengths[0]} tokens, video sample {lengths[1]} tokens "
        f"({model.item_tokens('video', frames)} visual tokens for {frames} frames)"
    )
    for name, tokens in zip(("image", "video"), new.tolist()):
        stdout.print(f"greedy generation ({name}): {tokens}")
    with staged_folder(out) if replace else contextlib.nullcontext(out) as target:
        saved = model.save_pretrained(target)
        DEMO.write_stamp(saved, "mmbind demo --compose-only")
        reloaded = mmbind.load_pretrained(saved)
        again = reloaded.generate(input_ids, mask, **media, max_new_tokens=max_new_tokens)
    same = torch.equal(again, new)
    stdout.print(f"saved to {out}; reloaded model generates the same tokens: {same}")
    return same

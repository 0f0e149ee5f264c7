"""encoder_init.py

Initialising one encoder from another's weights (``align`` option ``init_from_encoder``), as LanguageBind
starts its video encoder from the image encoder (``process_clip.add_time_attn_block``). The target encoder
names, for each of its parameters, the source parameter it copies or that it starts at zero
(`Encoder.init_source_name`; LanguageBind's video encoder copies its temporal attention from the spatial one).

Names are matched after removing each state dict's longest common dotted prefix (``tower.vision_model.``
for the LanguageBind image tower, ``tower.`` for the video tower), so any two encoders with the same
parameter names below their root work (e.g. two ``clip`` encoders). Every target parameter must be found
with the same shape; otherwise nothing is copied and a `RecipeError` names the first mismatches.
"""

from __future__ import annotations

import torch
from torch import nn

from mmbind.errors import RecipeError
from mmbind.interfaces import Encoder


def common_prefix(keys: list[str]) -> str:
    """Longest dotted prefix shared by all ``keys`` (never a whole key)."""
    parts = [k.split(".")[:-1] for k in keys]
    prefix: list[str] = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        prefix.append(column[0])
    return "".join(p + "." for p in prefix)


@torch.no_grad()
def init_encoder_from(target: Encoder, source: nn.Module, where: str) -> dict[str, str]:
    """Copy ``source``'s weights into ``target`` (see the module doc); returns target -> source names."""
    src = source.state_dict()
    dst = target.state_dict()
    src_prefix, dst_prefix = common_prefix(list(src)), common_prefix(list(dst))
    by_rel = {k[len(src_prefix):]: k for k in src}
    plan: dict[str, str] = {}
    problems = []
    for key, tensor in dst.items():
        rel = target.init_source_name(key[len(dst_prefix):])
        if rel is None:
            plan[key] = ""
        elif rel not in by_rel:
            problems.append(f"{key} (no {src_prefix}{rel} in the source)")
        elif src[by_rel[rel]].shape != tensor.shape:
            problems.append(f"{key} {tuple(tensor.shape)} vs {by_rel[rel]} {tuple(src[by_rel[rel]].shape)}")
        else:
            plan[key] = by_rel[rel]
    if problems:
        shown = "; ".join(problems[:3]) + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise RecipeError(f"{where}: the encoders' weights do not correspond: {shown}")
    for key, tensor in dst.items():
        if plan[key]:
            tensor.copy_(src[plan[key]])
        else:
            tensor.zero_()
    return plan

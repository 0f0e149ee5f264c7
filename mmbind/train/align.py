"""align.py

``kind: align``: LanguageBind-style contrastive alignment of ONE encoder to a text encoder.

Each media item's tokens (exactly what the encoder hands the projector) are pooled (mean, or CLS where
kept), layer-normed and linearly projected; each caption goes through the `TextTower`. The loss is CLIP's
symmetric InfoNCE over the batch with a learnable logit scale (init ``log(1/0.07)``, clamped so that
``exp`` stays <= 100 after every step, as OpenCLIP). Across ranks, every rank encodes its share of the
global batch and gathers all embeddings (a differentiable all-gather); its loss sum covers the rows and
columns of its own pairs, so the sum over ranks is the 1-rank loss sum (the runner divides by the pairs).
The encoder and the pooling head train; the text tower trains too (``text_encoder.train: true``: CLIP-style,
the image stage) or is loaded frozen from an earlier stage (the video stage, aligned to the image stage's text
space).

Saved with the stage's model: ``text_encoder/`` (the text tower, its projection, the pooling heads of the
encoders aligned to this text encoder as ``visual_projection.<modality>.*`` and this stage's
``logit_scale``) and, for a stand-alone encoder, ``encoder/``. An encoder initialised from another one
(``init_from_encoder``) also starts from that encoder's pooling head, as saved by the stage that aligned it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from mmbind.data.captions import MediaCaptions
from mmbind.data.collate import PairBatch, PairCollator
from mmbind.errors import RecipeError
from mmbind.interfaces import Encoder
from mmbind.recipe.stage_options import AlignOptions
from mmbind.train.encoder_init import init_encoder_from
from mmbind.train.pair_stage import PairObjective
from mmbind.train.standalone import ENCODER_DIR, build_standalone, load_standalone, save_standalone
from mmbind.train.text_encoder import HEADS, TextTower, load_text_tower, text_config

TEXT_DIR = "text_encoder"
HEAD_PREFIX = "visual_projection."


class PoolingHead(nn.Module):
    """Pooled encoder tokens ``(N, D)`` to the shared space ``(N, E)``: LayerNorm then a linear map."""

    def __init__(self, width: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)
        nn.init.normal_(self.proj.weight, std=width**-0.5)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(pooled))


def pool_tokens(tokens: torch.Tensor, pool: str, frames: int | None) -> torch.Tensor:
    """``(N, L, D)`` to ``(N, D)``: mean over all tokens, or the CLS token (averaged over frames)."""
    if pool == "mean":
        return tokens.mean(dim=1)
    per_frame = tokens.view(len(tokens), frames or 1, -1, tokens.shape[-1])
    return per_frame[:, :, 0].mean(dim=1)


def keeps_prefix_token(encoder: Encoder) -> bool:
    """Whether each frame of the encoder's output starts with a kept prefix token (CLS), as its
    `Encoder.token_layout` declares (an encoder that declares no layout keeps none that CLS pooling knows)."""
    layout = encoder.token_layout(encoder.tokens_per_item())
    return layout is not None and layout.prefix > 0


def gather_rows(rows: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every rank's ``rows`` concatenated in rank order (differentiable), and where this rank's start."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return rows, 0
    count = torch.tensor([len(rows)], device=rows.device)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    padded = torch.cat([rows, rows.new_zeros((max(sizes) - len(rows), *rows.shape[1:]))])
    parts = dist_fn.all_gather(padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes)]), sum(sizes[: dist.get_rank()])


def clip_loss(media: torch.Tensor, text: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Symmetric InfoNCE of L2-normalised embeddings, SUMMED over this rank's pairs (the global batch is
    gathered from all ranks); returns (loss sum, in-batch media->text accuracy of this rank's pairs)."""
    media, text = F.normalize(media, dim=-1), F.normalize(text, dim=-1)
    all_media, start = gather_rows(media)
    all_text, _ = gather_rows(text)
    logits = scale * all_media @ all_text.t()
    own = slice(start, start + len(media))
    target = torch.arange(start, start + len(media), device=media.device)
    by_media, by_text = logits[own], logits.t()[own]
    loss = (F.cross_entropy(by_media, target, reduction="sum")
            + F.cross_entropy(by_text, target, reduction="sum"))
    accuracy = float((by_media.argmax(dim=1) == target).float().mean())
    return loss / 2, accuracy


class AlignLoss(nn.Module):
    """Encoder + pooling head + text tower + logit scale; ``forward(batch) -> (loss sum, metrics)``."""

    def __init__(self, encoder: Encoder, head: PoolingHead, text: TextTower, options: AlignOptions) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.text = text
        self.options = options
        # shape (1,), not a scalar: FSDP2 shards no 0-d parameter (saved as a scalar, as CLIP's)
        self.logit_scale = nn.Parameter(torch.tensor([float(options.logit_scale)]))
        self.text.requires_grad_(options.text_encoder.train)
        self.encoder.requires_grad_(True)
        self.loaded_heads: dict[str, torch.Tensor] = {}  # heads saved with a loaded text encoder

    def train(self, mode: bool = True) -> AlignLoss:
        super().train(mode)
        if not self.options.text_encoder.train:
            self.text.eval()  # frozen: no dropout
        return self

    def embed_media(self, pixels: torch.Tensor) -> torch.Tensor:
        """Media embeddings ``(N, E)``."""
        frames = pixels.shape[1] if pixels.ndim == 5 else None
        return self.head(pool_tokens(self.encoder(pixels), self.options.pool, frames))

    def embed_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Caption embeddings ``(N, E)``."""
        if self.options.text_encoder.train:
            return self.text(ids, mask)
        with torch.no_grad():
            return self.text(ids, mask)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.exp()

    def forward(self, batch: PairBatch) -> tuple[torch.Tensor, dict[str, float]]:
        media = self.embed_media(batch.pixels)
        loss, accuracy = clip_loss(media, self.embed_text(batch.text_ids, batch.text_mask), self.scale())
        return loss, {"batch_accuracy": accuracy, "logit_scale": float(self.scale().detach())}

    @torch.no_grad()
    def after_step(self) -> None:
        """Clamp the logit scale (OpenCLIP clamps the parameter to [0, log 100])."""
        self.logit_scale.clamp_(0, math.log(self.options.max_logit_scale))

    def save(self, directory: Path, modality: str) -> None:
        """Write ``text_encoder/`` (tower, projection, pooling heads, logit scale) into a stage directory."""
        target = directory / TEXT_DIR
        target.mkdir(parents=True, exist_ok=True)
        heads = {k: v for k, v in self.loaded_heads.items() if k.startswith(HEAD_PREFIX)}
        heads.update(self.text.save(target))
        for key, value in self.head.state_dict().items():
            heads[f"{HEAD_PREFIX}{modality}.{key}"] = value.detach().cpu().contiguous()
        heads["logit_scale"] = self.logit_scale.detach().cpu().reshape(()).contiguous()
        save_file(heads, str(target / HEADS))


def build_align(
    model: Any, options: AlignOptions, run_dir: Path, registry: Any, where: str,
) -> tuple[AlignLoss, Any]:
    """The objective of an align stage; returns (objective, stand-alone encoder spec or None)."""
    tokenizer = model.llm.tokenizer
    if tokenizer is None:
        raise RecipeError(f"{where}: kind align reads captions with the LLM's tokenizer; this LLM has none")
    standalone = options.encoder
    if standalone is not None:
        encoder = build_standalone(standalone.plugin, standalone.options, options.modality, registry)
    else:
        encoder = model.encoders[options.modality]
    source, donor_modality = options.init_from_encoder, None
    if source is not None:
        donor = model.encoders[source] if source in model.encoders else load_standalone(
            run_dir / "stages" / source / ENCODER_DIR, registry)
        init_encoder_from(encoder, donor, f"{where}.options.init_from_encoder")
        donor_modality = donor.modality
    heads: dict[str, torch.Tensor] = {}
    text_from = options.text_encoder.init_from
    if text_from is not None:
        text, heads = load_text_tower(run_dir / "stages" / text_from / TEXT_DIR)
    else:
        text = TextTower.fresh(text_config(tokenizer, options.text_encoder.config, f"{where}.options"),
                               options.embed_dim)
    embed_dim = text.projection.out_features
    if options.pool == "cls" and not keeps_prefix_token(encoder):
        raise RecipeError(f"{where}.options.pool: cls needs an encoder that keeps its CLS token (keep_cls)")
    head = PoolingHead(encoder.output_dim, embed_dim)
    if source is not None:  # the donor's pooling head, saved by the stage that aligned it
        own_stage = run_dir / "stages" / source / TEXT_DIR / HEADS
        saved = heads if source in model.encoders else load_file(str(own_stage))
        prefix = f"{HEAD_PREFIX}{donor_modality}."
        donor_head = {k[len(prefix):]: v for k, v in saved.items() if k.startswith(prefix)}
        own = head.state_dict()
        if donor_head.keys() == own.keys() and all(v.shape == own[k].shape for k, v in donor_head.items()):
            head.load_state_dict(donor_head)
    objective = AlignLoss(encoder, head, text, options)
    objective.loaded_heads = heads
    return objective, standalone


class AlignObjective(PairObjective):
    """``kind: align`` as an `Objective`: contrastive loss summed over pairs; writes ``text_encoder/``
    (and ``encoder/`` for a stand-alone encoder) with the model; reports retrieval accuracy at the end."""

    kind = "align"
    min_count = 2  # a contrastive step needs negatives

    def build(self, model: Any) -> tuple[nn.Module, Encoder, Any, int]:
        ctx = self.ctx
        loss, self.spec = build_align(model, self.options, ctx.run_dir, ctx.registry, ctx.where)
        self.align = loss
        return loss, loss.encoder, model.llm.tokenizer, loss.text.max_length

    def after_step(self) -> None:
        self.align.after_step()

    def evaluate(self) -> dict[str, Any]:
        opts, ctx = self.options, self.ctx
        if not opts.eval_pairs:
            return {}
        found = retrieval_accuracy(self.align, self.dataset, self.collator, opts.eval_pairs, ctx.info.device)
        ctx.display.note(f"{ctx.name}: {opts.modality}->caption top-1 {found['media_to_text_top1']:.3f} over "
                         f"{found['pairs']} training pairs (chance {found['chance']:.3f})")
        return {"retrieval": found}

    def save_extra(self, directory: Path) -> None:
        self.align.save(directory, self.options.modality)
        if self.spec is not None:
            save_standalone(self.align.encoder, self.spec.plugin, self.spec.options, directory / ENCODER_DIR)


@torch.no_grad()
def retrieval_accuracy(objective: AlignLoss, dataset: MediaCaptions, collator: PairCollator, pairs: int,
                       device: torch.device, chunk: int = 64) -> dict[str, float]:
    """Media -> caption top-1 retrieval over the first ``pairs`` items, among their distinct captions.

    Items with identical captions count as one class; chance is 1 / (number of distinct captions).
    """
    was_training = objective.training
    objective.eval()
    media, captions, rows = [], [], {}
    count = min(pairs, len(dataset))
    for start in range(0, count, chunk):
        batch = collator([dataset[i] for i in range(start, min(start + chunk, count))]).to(device)
        if not batch.ids:
            continue
        media.append(F.normalize(objective.embed_media(batch.pixels), dim=-1))
        for row, mask in zip(batch.text_ids, batch.text_mask):
            caption = tuple(row[mask.bool()].tolist())
            captions.append(caption)
            rows.setdefault(caption, (row, mask))
    if not captions:
        return {}
    distinct = sorted(rows)
    width = max(len(c) for c in distinct)
    pad = collator.pad_id
    ids = torch.stack([F.pad(rows[c][0][: len(c)], (0, width - len(c)), value=pad) for c in distinct])
    mask = torch.stack([F.pad(rows[c][1][: len(c)], (0, width - len(c))) for c in distinct])
    text = F.normalize(objective.embed_text(ids, mask), dim=-1)
    guess = (torch.cat(media) @ text.t()).argmax(dim=1).tolist()
    correct = sum(distinct[g] == c for g, c in zip(guess, captions))
    objective.train(was_training)
    return {"media_to_text_top1": correct / len(captions), "chance": 1 / len(distinct),
            "pairs": len(captions)}

"""loop.py

`StageRunner`: the optimizer-step loop of one stage. Each step takes ``grad_accum`` micro-batches per rank
(see `mmbind.data.sampler` for which samples), sums their losses, divides by the supervised token count of
the whole step over all ranks (token-weighted, so 1 rank x A micro-batches equals A ranks x 1), clips,
steps AdamW and the scheduler. It logs metrics, draws the progress bar, checkpoints every N steps, stops
with `NonFiniteLossError` on a NaN/inf loss or gradient (the last good checkpoint stays), skips and counts
bad samples (reported per epoch, or fatal with ``on_bad_sample: fail``) and stops cleanly at a step
boundary after Ctrl-C, saving a checkpoint.
"""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from mmbind.data.collate import Batch
from mmbind.data.example import BadSample
from mmbind.data.sampler import RankBatches
from mmbind.errors import DataError, MmbindError
from mmbind.train.checkpoint import save_checkpoint
from mmbind.train.distributed import gather_objects, maybe_no_sync, sum_all
from mmbind.train.setup import autocast_for


class NonFiniteLossError(MmbindError):
    """The loss or the gradient norm became NaN or infinite."""

    exit_code = 3


class Interrupt:
    """Set by SIGINT; the loop stops at the next step boundary."""

    requested = False

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        if cls.requested:  # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        cls.requested = True


@dataclass
class StepInfo:
    """What callbacks receive after each optimizer step."""

    stage: str  # stage name
    stage_index: int  # position of the stage in the recipe
    step: int  # optimizer steps done in this stage
    total_steps: int  # steps of the stage
    loss: float  # token-weighted mean loss of the step
    checkpoint: Path | None = None  # checkpoint written after this step, if any


@dataclass
class StageState:
    """Position and counters, saved in checkpoints."""

    step: int = 0  # optimizer steps done
    bad: list[list[str]] = field(default_factory=list)  # [id, reason] skipped in the current epoch
    truncated: int = 0  # samples truncated in the current epoch
    bad_total: int = 0  # samples skipped over the whole stage


def _quiet_worker(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop


class StageRunner:
    """Runs one stage's steps; `run` returns "done" or "interrupted"."""

    def __init__(self, ctx: Any) -> None:
        self.c = ctx  # a `StageContext` from run.py
        self.state = StageState()
        self.last_checkpoint: Path | None = None
        self._mark = time.perf_counter()  # end of the previous step (wall clock, data loading included)

    # ------------------------------------------------------------------ loop
    def run(self) -> str:
        c = self.c
        spe = c.order.steps_per_epoch
        c.display.start(c.name, c.total_steps, self.state.step)
        self._mark = time.perf_counter()
        try:
            while self.state.step < c.total_steps:
                epoch, first = divmod(self.state.step, spe)
                last = min(spe, first + c.total_steps - self.state.step)
                batches = iter(self._loader(epoch, first, last))
                for _ in range(first, last):
                    micro = [next(batches) for _ in range(c.accum)]
                    stop, loss = self._step(micro, epoch)
                    if self.state.step % spe == 0:
                        self._end_of_epoch(epoch)
                    every = c.stage.save_every_steps
                    periodic = bool(every) and self.state.step % every == 0 and self.state.step < c.total_steps
                    ckpt = self._checkpoint() if stop or periodic else None
                    for callback in c.callbacks:
                        callback(StepInfo(c.name, c.index, self.state.step, c.total_steps, loss, ckpt))
                    if stop:
                        return "interrupted"
            if self.state.step % spe:
                self._end_of_epoch(self.state.step // spe)
        finally:
            c.display.stop()
        return "done"

    def _loader(self, epoch: int, first: int, last: int) -> DataLoader:
        c = self.c
        c.dataset.set_epoch(epoch)
        sampler = RankBatches(c.order.order(epoch), first, last, c.accum, c.info.rank, c.info.world,
                              c.stage.per_device_batch, c.stage.global_batch)
        workers = c.data.num_workers
        return DataLoader(
            c.dataset, batch_sampler=sampler, collate_fn=c.collator, num_workers=workers,
            generator=torch.Generator(), worker_init_fn=_quiet_worker if workers else None,
            persistent_workers=False, prefetch_factor=4 if workers else None,
        )

    # ------------------------------------------------------------------ step
    def _step(self, micro: list[Batch], epoch: int) -> tuple[bool, float]:
        c, p = self.c, self.c.prepared
        started = time.perf_counter()
        bad = [b for batch in micro for b in batch.bad]
        local = [float(sum(b.supervised_tokens for b in micro)), float(len(bad))]
        n_tokens, n_bad = sum_all(local, c.info.device)
        self._record_bad(bad, n_bad)
        scale = c.info.world / max(n_tokens, 1.0)
        loss_sum = torch.zeros((), dtype=torch.float64, device=c.info.device)
        for i, batch in enumerate(micro):
            batch = batch.to(c.info.device)
            with maybe_no_sync(p.module, sync=i == len(micro) - 1):
                with autocast_for(p.precision, c.info.device):
                    part = p.module(batch)
                (part * scale).backward()
            loss_sum += part.detach().double()
        real = sum(sum(b.lengths) for b in micro)
        computed = sum(sum(b.lengths) if b.packed else b.size * max(b.lengths, default=0) for b in micro)
        totals = sum_all([loss_sum.item(), real, computed, sum(b.size for b in micro), float(Interrupt.requested)],
                         c.info.device)
        loss = totals[0] / n_tokens if n_tokens else float("nan")
        lr = p.optimizer.param_groups[0]["lr"]
        if n_tokens and not math.isfinite(loss):
            self._diverged("loss", loss)
        norm = float(torch.nn.utils.clip_grad_norm_(p.params, c.stage.max_grad_norm or float("inf")))
        if n_tokens and not math.isfinite(norm):
            self._diverged("gradient norm", norm)
        if n_tokens:
            p.optimizer.step()
        p.scheduler.step()
        p.optimizer.zero_grad(set_to_none=True)
        self.state.truncated += sum(b.truncated for b in micro)
        self.state.step += 1
        now = time.perf_counter()
        elapsed, wall, self._mark = now - started, now - self._mark, now
        record = {
            "stage": c.name, "stage_index": c.index, "step": self.state.step, "epoch": epoch,
            "loss": loss if n_tokens else None, "lr": lr, "grad_norm": norm, "samples": int(totals[3]),
            "tokens": int(totals[1]), "pad_fraction": 1 - totals[1] / max(totals[2], 1),
            "tokens_per_s": totals[1] / wall, "step_time_s": elapsed, "wall_time_s": wall,
            "skipped_samples": int(n_bad),
        }
        if c.info.main and self.state.step % c.stage.log_every_steps == 0:
            c.metrics.write(record)
        c.display.update(self.state.step, loss, lr, record["tokens_per_s"])
        return totals[4] > 0, loss

    # -------------------------------------------------------------- helpers
    def _record_bad(self, bad: list[BadSample], n_bad: float) -> None:
        c = self.c
        if n_bad and c.data.on_bad_sample == "fail":
            first = bad[0].reason if bad else "on another rank"
            raise DataError(f"stage {c.name}: bad sample ({first}); set data.on_bad_sample: skip to skip such samples")
        self.state.bad += [[b.id, b.reason] for b in bad]
        self.state.bad_total += int(n_bad)

    def _end_of_epoch(self, epoch: int) -> None:
        c = self.c
        bad = [item for rank in gather_objects(self.state.bad) for item in rank]
        truncated = int(sum_all([float(self.state.truncated)], c.info.device)[0])
        if c.info.main:
            with (c.run_dir / "bad_samples.jsonl").open("a", encoding="utf-8") as handle:
                for sid, reason in bad:
                    handle.write(json.dumps({"stage": c.name, "epoch": epoch, "id": sid, "reason": reason}) + "\n")
            ids = ", ".join(sid for sid, _ in bad[:10]) + (" ..." if len(bad) > 10 else "")
            line = f"{c.name} epoch {epoch}: {len(bad)} sample(s) skipped" + (f" ({ids})" if bad else "")
            c.display.note(line + f", {truncated} truncated to max_length {c.stage.max_length}")
        self.state.bad, self.state.truncated = [], 0

    def _diverged(self, what: str, value: float) -> None:
        c = self.c
        c.prepared.optimizer.zero_grad(set_to_none=True)
        kept = f"; last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else "; no checkpoint yet"
        raise NonFiniteLossError(
            f"stage {c.name} step {self.state.step + 1}: {what} is {value} (check the learning rate and the data)"
            + kept
        )

    def _checkpoint(self) -> Path:
        c = self.c
        state = {
            "stage": c.name, "stage_index": c.index, "step": self.state.step, "total_steps": c.total_steps,
            "epoch": self.state.step // c.order.steps_per_epoch, "world_size": c.info.world,
            "bad": self.state.bad, "truncated": self.state.truncated, "bad_total": self.state.bad_total,
        }
        p = c.prepared
        self.last_checkpoint = save_checkpoint(
            c.run_dir, state, p.module, p.optimizer, p.scheduler, c.info, p.fsdp, c.stage.keep_last
        )
        return self.last_checkpoint

    def restore_state(self, saved: dict[str, Any], checkpoint: Path) -> None:
        """Continue from a checkpoint's position and counters."""
        self.state = StageState(saved["step"], saved.get("bad", []) if self.c.info.main else [],
                                saved.get("truncated", 0) if self.c.info.main else 0, saved.get("bad_total", 0))
        self.last_checkpoint = checkpoint


Callback = Callable[[StepInfo], None]

"""loop.py

`StageRunner`: the optimizer-step loop of one stage, whatever its kind (the kind is an `Objective`: see
`mmbind.train.objective`). Each step takes ``accum`` micro-batches per rank (see `mmbind.data.sampler` for
which samples), sums their loss sums, divides by the objective's count (supervised tokens, pairs, masked
patches) of the whole step over all ranks (so 1 rank x A micro-batches equals A ranks x 1), clips,
steps AdamW and the scheduler. It logs metrics, draws the progress bar, checkpoints every N steps, stops
with `NonFiniteLossError` on a NaN/inf loss or gradient (the last good checkpoint stays), skips and counts
bad samples (reported per epoch, or fatal with ``on_bad_sample: fail``) and stops cleanly at a step
boundary after Ctrl-C or SIGTERM, saving a checkpoint.
"""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from mmbind.data.example import BadSample
from mmbind.data.sampler import RankBatches
from mmbind.errors import DataError, MmbindError
from mmbind.train.checkpoint import save_checkpoint
from mmbind.train.distributed import gather_objects, maybe_no_sync, sum_all
from mmbind.train.objective import Callback, Objective, StageContext, StepInfo
from mmbind.train.setup import autocast_for

__all__ = ["Callback", "Interrupt", "NonFiniteLossError", "StageRunner", "StepInfo"]


class NonFiniteLossError(MmbindError):
    """The loss or the gradient norm became NaN or infinite."""

    exit_code = 3


class Interrupt:
    """Set by SIGINT or SIGTERM (`signum` says which); the loop stops at the next step boundary."""

    requested = False
    signum = int(signal.SIGINT)

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        if cls.requested:  # a second Ctrl-C (or SIGTERM) aborts at once
            raise KeyboardInterrupt
        cls.requested = True
        cls.signum = int(signum)


@dataclass
class StageState:
    """Position and counters, saved in checkpoints."""

    step: int = 0  # optimizer steps done
    bad: list[list[str]] = field(default_factory=list)  # [id, reason] skipped in the current epoch
    truncated: int = 0  # samples truncated in the current epoch
    bad_total: int = 0  # samples skipped over the whole stage


def _quiet_worker(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class StageRunner:
    """Runs one stage's steps; `run` returns "done" or "interrupted"."""

    def __init__(self, ctx: StageContext, objective: Objective) -> None:
        self.ctx = ctx
        self.objective = objective
        self.total_steps: int = objective.total_steps  # type: ignore[attr-defined]
        self.state = StageState()
        self.last_checkpoint: Path | None = None
        self._mark = time.perf_counter()  # end of the previous step (wall clock, data loading included)

    # ------------------------------------------------------------------ loop
    def run(self) -> str:
        ctx, objective, total = self.ctx, self.objective, self.total_steps
        steps_per_epoch = objective.order.steps_per_epoch
        ctx.display.start(ctx.name, total, self.state.step)
        self._mark = time.perf_counter()
        try:
            while self.state.step < total:
                epoch, first = divmod(self.state.step, steps_per_epoch)
                last = min(steps_per_epoch, first + total - self.state.step)
                batches = iter(self._loader(epoch, first, last))
                for _ in range(first, last):
                    micro = [next(batches) for _ in range(objective.accum)]
                    stop, loss = self._step(micro, epoch)
                    if self.state.step % steps_per_epoch == 0:
                        self._end_of_epoch(epoch)
                    every = ctx.stage.save_every_steps
                    periodic = bool(every) and self.state.step % every == 0 and self.state.step < total
                    checkpoint = self._checkpoint() if stop or periodic else None
                    for callback in ctx.callbacks:
                        callback(StepInfo(ctx.name, ctx.index, self.state.step, total, loss, checkpoint))
                    if stop:
                        return "interrupted"
            if self.state.step % steps_per_epoch:
                self._end_of_epoch(self.state.step // steps_per_epoch)
        finally:
            ctx.display.stop()
        return "done"

    def _loader(self, epoch: int, first: int, last: int) -> DataLoader:
        ctx, objective = self.ctx, self.objective
        objective.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        sampler = RankBatches(objective.order.order(epoch), first, last, objective.accum, ctx.info.rank,
                              ctx.info.world, objective.per_device, ctx.stage.global_batch)
        workers = objective.workers
        return DataLoader(
            objective.dataset, batch_sampler=sampler, collate_fn=objective.collator, num_workers=workers,
            generator=torch.Generator(), worker_init_fn=_quiet_worker if workers else None,
            persistent_workers=False, prefetch_factor=4 if workers else None,
        )

    # ------------------------------------------------------------------ step
    def _step(self, micro: list[Any], epoch: int) -> tuple[bool, float]:
        ctx, objective, prepared = self.ctx, self.objective, self.objective.prepared
        started = time.perf_counter()
        bad = [b for batch in micro for b in batch.bad]
        local = [float(sum(objective.count(b) for b in micro)), float(len(bad))]
        n_count, n_bad = sum_all(local, ctx.info.device)
        self._record_bad(bad, n_bad)
        scale = ctx.info.world / max(n_count, 1.0)
        loss_sum = torch.zeros((), dtype=torch.float64, device=ctx.info.device)
        extras: dict[str, float] = {}
        for i, batch in enumerate(micro):
            batch = batch.to(ctx.info.device)
            with maybe_no_sync(prepared.module, sync=i == len(micro) - 1):
                with autocast_for(prepared.precision, ctx.info.device):
                    out = prepared.module(batch)
                part, extra = out if isinstance(out, tuple) else (out, {})
                (part * scale).backward()
            loss_sum += part.detach().double()
            for key, value in extra.items():
                extras[key] = extras.get(key, 0.0) + value
        tokens = [objective.tokens(b) for b in micro]
        names = sorted(extras)
        totals = sum_all([loss_sum.item(), sum(t[0] for t in tokens), sum(t[1] for t in tokens),
                          sum(len(b.ids) for b in micro), float(Interrupt.requested),
                          *(extras[k] for k in names)], ctx.info.device)
        update = n_count >= objective.min_count
        loss = totals[0] / n_count if update else float("nan")
        lr = prepared.optimizer.param_groups[0]["lr"]
        if update and not math.isfinite(loss):
            self._diverged("loss", loss)
        norm = float(torch.nn.utils.clip_grad_norm_(prepared.params, ctx.stage.max_grad_norm or float("inf")))
        if update and not math.isfinite(norm):
            self._diverged("gradient norm", norm)
        if update:
            prepared.optimizer.step()
        prepared.scheduler.step()
        prepared.optimizer.zero_grad(set_to_none=True)
        if update:
            objective.after_step()
        self.state.truncated += sum(getattr(b, "truncated", 0) for b in micro)
        self.state.step += 1
        now = time.perf_counter()
        elapsed, wall, self._mark = now - started, now - self._mark, now
        record = {
            "stage": ctx.name, "stage_index": ctx.index, "kind": objective.kind, "step": self.state.step,
            "epoch": epoch,
            "loss": loss if update else None, "lr": lr, "grad_norm": norm, "samples": int(totals[3]),
            "tokens": int(totals[1]), "pad_fraction": 1 - totals[1] / max(totals[2], 1),
            "tokens_per_s": totals[1] / wall, "step_time_s": elapsed, "wall_time_s": wall,
            "skipped_samples": int(n_bad),
            **{k: v / (len(micro) * ctx.info.world) for k, v in zip(names, totals[5:])},
        }
        if ctx.info.main and self.state.step % ctx.stage.log_every_steps == 0:
            ctx.metrics.write(record)
        shown = {k: record[k] for k in getattr(objective, "shown_metrics", ()) if k in record}
        ctx.display.update(self.state.step, loss, lr, record["tokens_per_s"], shown)
        return totals[4] > 0, loss

    # -------------------------------------------------------------- helpers
    def _record_bad(self, bad: list[BadSample], n_bad: float) -> None:
        ctx = self.ctx
        if n_bad and ctx.data.on_bad_sample == "fail":
            first = bad[0].reason if bad else "on another rank"
            raise DataError(
                f"stage {ctx.name}: bad sample ({first}); set data.on_bad_sample: skip to skip such samples"
            )
        self.state.bad += [[b.id, b.reason] for b in bad]
        self.state.bad_total += int(n_bad)

    def _end_of_epoch(self, epoch: int) -> None:
        ctx = self.ctx
        bad = [item for rank in gather_objects(self.state.bad) for item in rank]
        truncated = int(sum_all([float(self.state.truncated)], ctx.info.device)[0])
        if ctx.info.main:
            with (ctx.run_dir / "bad_samples.jsonl").open("a", encoding="utf-8") as handle:
                for sid, reason in bad:
                    row = {"stage": ctx.name, "epoch": epoch, "id": sid, "reason": reason}
                    handle.write(json.dumps(row) + "\n")
            ids = ", ".join(sid for sid, _ in bad[:10]) + (" ..." if len(bad) > 10 else "")
            line = f"{ctx.name} epoch {epoch}: {len(bad)} sample(s) skipped" + (f" ({ids})" if bad else "")
            ctx.display.note(line + f", {truncated} truncated to max_length {ctx.stage.max_length}")
        self.state.bad, self.state.truncated = [], 0

    def _diverged(self, what: str, value: float) -> None:
        ctx = self.ctx
        self.objective.prepared.optimizer.zero_grad(set_to_none=True)
        last = self.last_checkpoint
        kept = f"; last good checkpoint: {last}" if last else "; no checkpoint yet"
        raise NonFiniteLossError(
            f"stage {ctx.name} step {self.state.step + 1}: {what} is {value} "
            "(check the learning rate and the data)"
            + kept
        )

    def _checkpoint(self) -> Path:
        ctx = self.ctx
        state = {
            "stage": ctx.name, "stage_index": ctx.index, "kind": self.objective.kind, "step": self.state.step,
            "total_steps": self.total_steps, "epoch": self.state.step // self.objective.order.steps_per_epoch,
            "world_size": ctx.info.world,
            "bad": self.state.bad, "truncated": self.state.truncated, "bad_total": self.state.bad_total,
        }
        prepared = self.objective.prepared
        self.last_checkpoint = save_checkpoint(
            ctx.run_dir, state, prepared.module, prepared.optimizer, prepared.scheduler, ctx.info,
            prepared.fsdp, ctx.stage.keep_last,
        )
        return self.last_checkpoint

    def restore_state(self, saved: dict[str, Any], checkpoint: Path) -> None:
        """Continue from a checkpoint's position and counters."""
        main = self.ctx.info.main
        self.state = StageState(saved["step"], saved.get("bad", []) if main else [],
                                saved.get("truncated", 0) if main else 0, saved.get("bad_total", 0))
        self.last_checkpoint = checkpoint


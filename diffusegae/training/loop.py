"""One optimisation loop for all three stages: Adam, EMA, tqdm, JSONL log, checkpoints, resume."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from diffusegae.config import LR_SCHEDULES
from diffusegae.training.common import EMA, Runtime, load_state, save_state, wrap_ddp

LossFn = Callable[[nn.Module, int], tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class LoopConfig:
    steps: int  # total optimiser steps (a resumed run continues up to this count)
    lr: float
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    save_every: int = 500  # steps between checkpoints (and the on_save hook)
    log_every: int = 50
    lr_schedule: str = "constant"  # or "cosine": decay to 0 over `steps`

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.lr_schedule!r}; choose from {LR_SCHEDULES}")

    def lr_at(self, step: int) -> float:
        """Learning rate of optimiser step `step` (0-based); a function of the step, so resuming needs no state."""
        if self.lr_schedule == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * min(step, self.steps) / self.steps))
        return self.lr


def run_loop(model: nn.Module, loss_fn: LossFn, cfg: LoopConfig, rt: Runtime, state_path: Path, *,
             on_save: Callable[[int, nn.Module], None], resume: bool = False, desc: str = "train",
             on_step: Callable[[int, dict[str, float]], None] | None = None,
             rng: torch.Generator | None = None,
             on_checkpoint: Callable[[int, Path], None] | None = None) -> nn.Module:
    """Train `model` with `loss_fn(model, step)` and return its EMA copy.

    `on_save(step, ema_model)` runs on rank 0 at every checkpoint and at the end; it writes the
    inference weights. `state_path` holds what `resume` needs (weights, EMA, optimiser, step, and the states of
    `rng`, the generator `loss_fn` draws its batches from, and of torch's global generators (dropout), so that a
    resumed run draws what the whole one would).
    `on_checkpoint(step, state_path)` after each checkpoint is whole (e.g. to copy it elsewhere).
    `on_step(steps_done, logs)` after every step, with that step's losses (progress; it may raise to stop the run).
    """
    model.to(rt.device)
    ema = EMA(model, cfg.ema_decay)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    if resume and state_path.is_file():
        st = load_state(state_path, rt.device)
        model.load_state_dict(st["model"])
        ema.shadow.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        start = int(st["step"])
        if rng is not None and "rng" in st:
            rng.set_state(st["rng"])
        if "torch_rng" in st:  # dropout draws from the global generator
            torch.set_rng_state(st["torch_rng"].cpu())
        if "cuda_rng" in st and rt.device.type == "cuda":
            torch.cuda.set_rng_state(st["cuda_rng"].cpu(), rt.device)
    elif resume and rt.is_main:
        print(f"no state at {state_path}; starting from step 0")
    train_model = wrap_ddp(model, rt)
    log_path = state_path.with_name(state_path.stem + "_log.jsonl")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Off a terminal (a log file, CI) a bar redrawn every step would flood the output.
    bar = tqdm(total=cfg.steps, initial=start, desc=desc, disable=not rt.is_main, dynamic_ncols=True,
               mininterval=0.1 if sys.stderr.isatty() else 30.0)
    t0, acc, n_acc = time.time(), {}, 0

    def checkpoint(step: int) -> None:
        if rt.is_main:
            save_state(state_path, model=model.state_dict(), ema=ema.shadow.state_dict(), opt=opt.state_dict(),
                       step=step, torch_rng=torch.get_rng_state(), **({"rng": rng.get_state()} if rng is not None else {}),
                       **({"cuda_rng": torch.cuda.get_rng_state(rt.device)} if rt.device.type == "cuda" else {}))
            on_save(step, ema.shadow)
            if on_checkpoint is not None:
                on_checkpoint(step, state_path)

    for step in range(start, cfg.steps):
        train_model.train()
        loss, logs = loss_fn(train_model, step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step + 1} of {cfg.steps} (lr {cfg.lr}): "
                                     "try a lower learning rate or another seed")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        lr = cfg.lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        ema.update(model)
        logs = {"loss": loss.item(), "grad_norm": float(gnorm), "lr": lr, **logs}
        for k, v in logs.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        bar.update(1)
        if on_step is not None:
            on_step(step + 1, logs)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            means = {k: v / n_acc for k, v in acc.items()}
            bar.set_postfix({k: f"{v:.4g}" for k, v in means.items() if k in ("loss", "l_dae", "l_gae")})
            if rt.is_main:
                with log_path.open("a") as f:
                    f.write(json.dumps({"step": step + 1, "elapsed_s": round(time.time() - t0, 1),
                                        "world_size": rt.world_size, **means}) + "\n")
            acc, n_acc = {}, 0
        if (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            checkpoint(step + 1)
    bar.close()
    if start < cfg.steps:
        checkpoint(cfg.steps)
    return ema.shadow

"""The training loop's learning-rate schedule (a function of the step, so resuming needs no state)."""

import pytest

from diffusegae.training.loop import LoopConfig


def test_cosine_schedule_decays_from_lr_to_zero():
    cfg = LoopConfig(steps=100, lr=1e-3, lr_schedule="cosine")
    assert cfg.lr_at(0) == pytest.approx(1e-3)
    assert cfg.lr_at(50) == pytest.approx(5e-4)
    assert cfg.lr_at(99) < 1e-6
    lrs = [cfg.lr_at(s) for s in range(100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_constant_schedule_and_unknown_name():
    assert LoopConfig(steps=10, lr=0.1).lr_at(7) == 0.1
    with pytest.raises(ValueError, match="unknown lr schedule 'step'"):
        LoopConfig(steps=10, lr=0.1, lr_schedule="step")


def test_a_loss_that_is_not_finite_stops_the_run_with_the_step_and_what_to_try(tmp_path):
    import torch
    from torch import nn

    from diffusegae.training.common import Runtime
    from diffusegae.training.loop import run_loop

    model = nn.Linear(2, 1)

    def loss_fn(m: nn.Module, step: int):
        out = m(torch.ones(1, 2)).sum()
        return (out * float("nan") if step == 3 else out), {}

    with pytest.raises(FloatingPointError, match="the loss became nan at step 4 of 10.*lower learning rate"):
        run_loop(model, loss_fn, LoopConfig(steps=10, lr=1e-3), Runtime(torch.device("cpu"), 0, 1),
                 tmp_path / "state.pt", on_save=lambda step, ema: None)

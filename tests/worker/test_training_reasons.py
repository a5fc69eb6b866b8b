"""A training that fails says why in words (worker.training._reason): a NaN loss with its step, out of memory with
the stage; anything else is left as it is (the job then shows its type and message)."""

from __future__ import annotations

from worker.training import TrainingError, _reason


def test_nan_loss_and_out_of_memory_become_reasons_and_other_errors_stay_themselves():
    nan = _reason(FloatingPointError("the loss became nan at step 4 of 10 (lr 0.001): try a lower learning rate"), "gae")
    assert isinstance(nan, TrainingError) and "step 4 of 10" in str(nan)
    memory = _reason(MemoryError(), "domain")
    assert isinstance(memory, TrainingError) and str(memory).startswith("out of memory in the domain stage: free memory")
    cuda = _reason(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "gae")
    assert isinstance(cuda, TrainingError) and "Tried to allocate" in str(cuda)
    other = RuntimeError("something else")
    assert _reason(other, "gae") is other

"""The latents a worker keeps in memory: per model, for a limited time, a limited number."""

from __future__ import annotations

import time

from worker.recent import RecentLatents


def test_latents_are_kept_per_model_for_a_while_and_the_oldest_go_first():
    recent = RecentLatents(items=2, seconds=0.2)
    recent.put("model-a", "i1", b"1")
    assert recent.get("model-a", "i1") == b"1"
    assert recent.get("model-b", "i1") is None, "another model's latents are not these"
    recent.put("model-a", "i2", b"2")
    recent.get("model-a", "i1")  # used: i2 is now the oldest
    recent.put("model-a", "i3", b"3")
    assert recent.get("model-a", "i2") is None and recent.get("model-a", "i1") == b"1"
    time.sleep(0.25)
    assert recent.get("model-a", "i1") is None, "read again from the store once RECENT_S passed"

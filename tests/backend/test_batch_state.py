from backend.api.services import batch_state


def test_batch_state_from_its_items():
    assert batch_state(["queued", "queued"], cancelled=False) == "queued"
    assert batch_state(["running", "queued"], cancelled=False) == "running"
    assert batch_state(["succeeded", "queued"], cancelled=False) == "running"  # started: one is done
    assert batch_state(["succeeded", "failed"], cancelled=False) == "succeeded"  # partial results are results
    assert batch_state(["failed", "failed"], cancelled=False) == "failed"
    assert batch_state(["succeeded", "cancelled"], cancelled=True) == "cancelled"
    assert batch_state(["succeeded", "succeeded"], cancelled=True) == "succeeded"  # cancelled too late: all done
    assert batch_state(["cancelled", "cancelled"], cancelled=False) == "succeeded"  # items cancelled one by one

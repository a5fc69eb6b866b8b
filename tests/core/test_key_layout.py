"""The Redis key layout is a deployment's data: a session of every kind of write leaves exactly these keys and
types (names as they were before core.records became a package), so an upgraded deployment finds its records."""

from __future__ import annotations

import redis

from core.records import SUCCEEDED, Records
from core.specs import RecombineSpec

IMAGE, DONOR = "a" * 64, "b" * 64
JOB, BULK, LATER = "1" * 32, "2" * 32, "3" * 32
BATCH = "9" * 32


def _layout(records: Records, rdb: redis.Redis) -> dict[str, str]:
    """Every key under the records' prefix (the prefix, wherever it occurs in a name, written as <p>) -> its type."""
    prefix = records.keys.prefix
    return {k.replace(prefix, "<p>"): rdb.type(k) for k in rdb.scan_iter(f"{prefix}*")}


def _spec(lane: str = "interactive") -> RecombineSpec:
    return RecombineSpec(model="m", base=IMAGE, attributes={}, x_T="inferred", seed=0, steps=4, sampler="ddim", lane=lane)


def test_a_session_of_every_kind_of_write_leaves_the_same_keys_as_before(records, rdb):
    records.shared_secret("url-signing")
    records.heartbeat("w1", {"id": "w1"}, ttl=30)
    records.publish_models({"m": "{}"})
    records.publish_model_files("m", "fp", {"examples/0.png": b"png"})
    for image in (IMAGE, DONOR):
        records.queue_encode(image, "m", "fp", filename="x.png")
        records.add_image_owner("o", image, "x.png")
    records.claim(records.image_key(IMAGE), "w1", 1)
    records.finish(records.image_key(IMAGE), SUCCEEDED, model="m")
    assert records.reserve_idempotency("o", "tok", "hash", 60)[0] == "new"
    records.complete_idempotency("o", "tok", JOB)
    records.create_job(JOB, _spec(), owner="o", callback="http://h/1")
    records.create_job(BULK, _spec("bulk"), owner="o", batch=BATCH)
    records.create_batch(BATCH, [BULK], owner="o")
    records.arm_batch_webhook(BATCH, "http://h/b")
    records.create_job(LATER, _spec(), owner="o")
    assert records.supersede("o", "editor", LATER) is None
    assert records.supersede("o", "editor", JOB) == LATER  # LATER was queued: cancelled
    records.claim(records.job_key(JOB), "w1", 1)
    records.progress([records.job_key(JOB)], 1, 4)
    records.announce(records.job_key(JOB), x0_step=1)
    records.put_hot_result(records.job_key(JOB), b"png")
    records.finish(records.job_key(JOB), SUCCEEDED)
    records.webhook_result(records.claim_webhook(30), {"state": "delivered", "attempts": 1}, None)
    assert records.waiting() == {"interactive": 0, "bulk": 2}
    assert records.queue_position(records.get(records.job_key(BULK))) == 1
    assert records.open_jobs() == [records.job_key(BULK)]
    assert _layout(records, rdb) == {
        "<p>secret:url-signing": "string",
        "<p>hb:w1": "string",
        "<p>workers": "zset",
        "<p>models": "hash",
        "<p>model:m:files": "hash",
        f"<p>job:{JOB}:png": "string",
        f"<p>image:{IMAGE}": "hash",
        f"<p>image:{DONOR}": "hash",
        "<p>pending:encode:m": "zset",
        "<p>owner:o:images": "zset",
        "<p>owner:o:names": "hash",
        f"<p>owners:<p>image:{IMAGE}": "set",
        f"<p>owners:<p>image:{DONOR}": "set",
        f"<p>sbatch:<p>image:{IMAGE}": "set",
        "<p>idem:o:tok": "hash",
        f"<p>job:{JOB}": "hash",
        f"<p>job:{BULK}": "hash",
        f"<p>job:{LATER}": "hash",
        "<p>pending:decode:m:bulk:4:ddim": "zset",
        "<p>owner:o:jobs": "zset",
        f"<p>batch:{BATCH}": "hash",
        "<p>owner:o:supersede": "hash",
        f"<p>sbatch:<p>job:{JOB}": "set",
        "<p>used": "zset",
    }

    records.drop_heartbeat("w1")
    assert records.forget(records.image_key(IMAGE), cutoff=float("inf"))
    assert records.forget(records.job_key(JOB), cutoff=float("inf"))
    gone = {f"<p>image:{IMAGE}", f"<p>owners:<p>image:{IMAGE}", f"<p>sbatch:<p>image:{IMAGE}", f"<p>job:{JOB}",
            f"<p>sbatch:<p>job:{JOB}", f"<p>job:{JOB}:png", "<p>hb:w1", "<p>workers"}
    assert gone.isdisjoint(_layout(records, rdb)) and len(_layout(records, rdb)) == 24 - len(gone)

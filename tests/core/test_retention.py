"""Retention on the real Redis and a real store folder: unused records and their files go, open ones stay."""

from __future__ import annotations

import time
import uuid

from core import retention
from core.records import SUCCEEDED, Records
from core.specs import Blend, RecombineSpec
from core.store import Store, new_id


def _files(store: Store, image: str) -> list[str]:
    return list(store.blobs.keys(f"images/{image}/"))


def _image(records: Records, store: Store, owner: str) -> str:
    image = uuid.uuid4().hex * 2
    store.put_original(image, b"bytes")
    store.put_latents(image, b"latents")
    records.queue_encode(image, "m", "fp", filename="a.png")
    records.add_image_owner(owner, image)
    records.heartbeat("w", {"id": "w"}, 30)
    records.claim(records.image_key(image), "w", 1)
    records.finish(records.image_key(image), SUCCEEDED, model="m")
    return image


def test_unused_records_and_their_files_are_deleted_and_open_ones_kept(records, tmp_path):
    store = Store(tmp_path)
    old, used = _image(records, store, "o"), _image(records, store, "o")
    job = records.create_job(new_id(), RecombineSpec(model="m", base=used, attributes={"pose": Blend(donor=None, weight=1)},
                                                     x_T="inferred", seed=0, steps=4, sampler="ddim"), owner="o")
    store.put_result(records.id_of(job), b"png")
    time.sleep(0.05)
    later = time.time()
    # The job is queued: it stays, and so does the image it names (touched when the job was made).
    assert retention.sweep(records, store, 0.02, now=later) == 1
    assert records.get(records.image_key(old)) is None and not _files(store, old)
    assert not records.owns_image("o", old) and records.owns_image("o", used)
    assert records.get(job) is not None and store.has_original(used)
    records.claim(job, "w", 1)
    records.finish(job, SUCCEEDED)
    assert retention.sweep(records, store, 0.02, now=time.time() + 1) == 2
    assert records.get(job) is None and store.result(records.id_of(job)) is None
    assert records.get(records.image_key(used)) is None and not _files(store, used)
    assert records.owned_images("o", 10) == []


def test_a_record_used_again_is_not_deleted(records, tmp_path):
    store = Store(tmp_path)
    image = _image(records, store, "o")
    cutoff_time = time.time()
    records.queue_encode(image, "m", "fp")  # the same bytes uploaded again
    assert retention.sweep(records, store, 0.0, now=cutoff_time) == 0
    assert store.has_original(image)

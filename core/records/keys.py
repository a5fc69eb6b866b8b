"""Every Redis key of a deployment, named once: the Python code asks `Keys` and the Lua scripts get the names
from it (in KEYS when known up front, else as the `layout` they fill in with what they read).

The names are a deployment's data: changing one orphans every record written under the old name
(tests/core/test_key_layout.py holds them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

_HOLE = "\x00"  # stands for the variable part of a name while its layout is taken apart


@dataclass(frozen=True)
class Keys:
    prefix: str  # of every key this deployment and Celery's transport write (DGAE_KEY_PREFIX)

    # --- units and batches (hashes) ---
    def image(self, image_id: str) -> str:
        return f"{self.prefix}image:{image_id}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def batch(self, batch_id: str) -> str:
        return f"{self.prefix}batch:{batch_id}"

    # --- the claim protocol ---
    def pending(self, group: str) -> str:
        """Queued units of a sampler group (sorted set by arrival)."""
        return f"{self.prefix}pending:{group}"

    @property
    def running(self) -> str:
        """Claimed units (sorted set by claim time)."""
        return f"{self.prefix}running"

    def sbatch(self, unit: str) -> str:
        """The units the task of `unit` (a key) claimed with it (set)."""
        return f"{self.prefix}sbatch:{unit}"

    def hb(self, worker_id: str) -> str:
        """A worker's heartbeat (string: its info as JSON, expiring); its claims hold while it lives."""
        return f"{self.prefix}hb:{worker_id}"

    @property
    def workers(self) -> str:
        """Worker ids (sorted set by when each counts as dead)."""
        return f"{self.prefix}workers"

    @staticmethod
    def hot_result(unit: str) -> str:
        """A just-finished job's result PNG (bytes, expiring; core.records.hot)."""
        return f"{unit}:png"

    @staticmethod
    def events(unit: str) -> str:
        """The pub/sub channel on which every change of the unit `unit` (a key) is announced."""
        return f"{unit}:events"

    # --- owners ---
    def owner_images(self, owner: str) -> str:
        return f"{self.prefix}owner:{owner}:images"

    def owner_names(self, owner: str) -> str:
        """Image id -> the file name the owner uploaded it under."""
        return f"{self.prefix}owner:{owner}:names"

    def owner_jobs(self, owner: str) -> str:
        return f"{self.prefix}owner:{owner}:jobs"

    def owner_datasets(self, owner: str) -> str:
        """The owner's datasets (sorted set by upload time; the datasets themselves are in the store)."""
        return f"{self.prefix}owner:{owner}:datasets"

    def owner_supersede(self, owner: str) -> str:
        """The owner's supersede tokens -> the job submitted last with each."""
        return f"{self.prefix}owner:{owner}:supersede"

    def owners(self, image: str) -> str:
        """Who uploaded the image `image` (a key)."""
        return f"{self.prefix}owners:{image}"

    def idempotency(self, owner: str, token: str) -> str:
        return f"{self.prefix}idem:{owner}:{token}"

    # --- the rest ---
    @property
    def used(self) -> str:
        """Every image, job and batch (sorted set by last use; retention)."""
        return f"{self.prefix}used"

    @property
    def webhooks(self) -> str:
        """Deliveries owed (sorted set of job and batch keys by when each is due)."""
        return f"{self.prefix}webhooks"

    @property
    def models(self) -> str:
        """The registry as workers publish it: model name -> its entry (core.models.ModelEntry) as JSON."""
        return f"{self.prefix}models"

    def model_files(self, name: str) -> str:
        """A model's files for the API to serve (hash: examples/<i>.png, eval/<figure>.png, MODEL_CARD.md, and
        `fingerprint`, of the folder they were read from)."""
        return f"{self.prefix}model:{name}:files"

    def secret(self, name: str) -> str:
        return f"{self.prefix}secret:{name}"

    @property
    def celery(self) -> str:
        """The prefix of Celery's transport keys (its queue lists among them)."""
        return f"{self.prefix}celery:"

    # --- reading a unit's key back ---
    @staticmethod
    def id_of(key: str) -> str:
        return key.rsplit(":", 1)[1]

    def kind_of(self, key: str) -> str:
        """"image", "job" or "batch"."""
        return key[len(self.prefix):].split(":", 1)[0]

    def is_image(self, key: str) -> bool:
        return key.startswith(self.image(""))

    @cached_property
    def layout(self) -> str:
        """The names a Lua script builds from what it reads (core/records/lua/layout.lua), as JSON: for each,
        the text before and after its variable part."""
        names: dict[str, Callable[[str], str]] = {
            "hb": self.hb, "pending": self.pending, "job": self.job, "batch": self.batch, "events": self.events,
            "owner_images": self.owner_images, "owner_names": self.owner_names, "owner_jobs": self.owner_jobs}
        return json.dumps({kind: name(_HOLE).split(_HOLE) for kind, name in names.items()})

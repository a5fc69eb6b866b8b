"""The latents a worker read lately, kept in its memory for a minute.

An editor's slider decodes the same base and donors again and again; each of their latents is an object-store GET
(boto3's signing and parsing, SeaweedFS's work) that the worker would otherwise repeat for every preview. Only
latents made by the worker's own model are kept (the caller checks), and only for RECENT_S: an image deleted
meanwhile is not decoded from memory for longer than that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

RECENT_S = 60.0
RECENT_ITEMS = 256  # about 13 MiB of vehicles-64 latents


class RecentLatents:
    def __init__(self, items: int = RECENT_ITEMS, seconds: float = RECENT_S) -> None:
        self.items, self.seconds = items, seconds
        self._kept: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, fingerprint: str, image_id: str) -> bytes | None:
        """The latents of `image_id` made by the model `fingerprint`, read less than RECENT_S ago; else None."""
        with self._lock:
            kept = self._kept.get((fingerprint, image_id))
            if kept is None:
                return None
            if time.monotonic() - kept[0] > self.seconds:
                del self._kept[(fingerprint, image_id)]
                return None
            self._kept.move_to_end((fingerprint, image_id))
            return kept[1]

    def put(self, fingerprint: str, image_id: str, data: bytes) -> None:
        with self._lock:
            key = (fingerprint, image_id)
            if key not in self._kept:  # first read: it lives RECENT_S from now, however often it is used
                self._kept[key] = (time.monotonic(), data)
            self._kept.move_to_end(key)
            while len(self._kept) > self.items:
                self._kept.popitem(last=False)

"""A model without domain statistics still encodes: its records get an empty domain field, never a crash."""

import json

import torch

from diffusegae.editing import Latents
from worker.batches import _domain_field


class _Editor:
    def __init__(self, verdicts):
        self.verdicts = verdicts

    def judge(self, lat):
        return self.verdicts


def test_domain_field_per_image_and_empty_without_statistics():
    lat = Latents(torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(2, 3, 2, 2))
    assert _domain_field(_Editor(None), lat) == ["", ""]
    v = [{"in_domain": True, "score": 0.1, "threshold": 0.2, "chunks": {}},
         {"in_domain": False, "score": 0.5, "threshold": 0.2, "chunks": {}}]
    assert [json.loads(f) for f in _domain_field(_Editor(v), lat)] == v

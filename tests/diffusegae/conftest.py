"""Fixtures of the library tests."""

import pytest
import torch

from diffusegae.editing import Editor


@pytest.fixture(scope="module")
def editor(tiny_model):
    """The really trained tiny model, loaded once per test module, at 1 torch thread."""
    torch.set_num_threads(1)
    return Editor.load(tiny_model, "cpu")

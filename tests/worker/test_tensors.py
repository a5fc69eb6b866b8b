"""A job spec -> its rows of the sampler batch, on the really trained tiny model."""

import torch

from core.specs import Blend, InterpolateSpec, RecombineSpec
from diffusegae.data import toys
from diffusegae.editing import Editor, recombine
from worker.tensors import condition_rows, frame_weights, rows_for

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _latents(ed: Editor) -> dict:
    x = toys.render_tensor(torch.tensor([[0, 1, 2], [3, 4, 5], [5, 2, 8]]), ed.info.resolution)
    lat = ed.encode(x, steps=4)
    return {A: lat[0:1], B: lat[1:2], C: lat[2:3]}


def test_recombine_rows_blend_the_named_chunks_and_keep_the_base_x_T(tiny_model):
    ed = Editor.load(tiny_model, "cpu")
    lat = _latents(ed)
    spec = RecombineSpec(model="m",
                         base=A, attributes={"pose": Blend(donor=B, weight=0.5), "background": Blend(donor=None, weight=1),
                                             "identity": Blend(donor=C, weight=1.0)},
                         x_T="inferred", seed=0, steps=4, sampler="ddim")
    z, x = rows_for(ed, spec, lat)
    want = recombine(lat[A].z_dis, {"pose": (lat[B].z_dis, 0.5), "identity": (lat[C].z_dis, 1.0)}, ed.slices)
    assert torch.equal(z, want) and torch.equal(x, lat[A].x_T)
    assert torch.equal(z[:, ed.slices["background"]], lat[A].z_dis[:, ed.slices["background"]])


def test_random_x_T_is_seeded_and_interpolation_gives_one_row_per_frame(tiny_model):
    ed = Editor.load(tiny_model, "cpu")
    lat = _latents(ed)
    spec = InterpolateSpec(model="m",
                           base=A, donor=B, attributes=("pose",), frames=5, x_T="random", seed=3, steps=4, sampler="ddim")
    z, x = rows_for(ed, spec, lat)
    assert z.shape[0] == x.shape[0] == 5
    assert torch.equal(x, ed.random_x_T([3] * 5))
    pose = ed.slices["pose"]
    assert torch.allclose(z[-1, pose], lat[B].z_dis[0, pose]) and torch.equal(z[0], lat[A].z_dis[0])
    others = [i for i in range(z.shape[1]) if i not in range(pose.start, pose.stop)]
    assert torch.equal(z[:, others], lat[A].z_dis[:, others].expand(5, -1))
    assert frame_weights(5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_diffae_rows_move_the_base_z_sem_and_gae_rows_condition_on_d_of_z_dis(tiny_model):
    ed = Editor.load(tiny_model, "cpu")
    lat = _latents(ed)
    gae = RecombineSpec(model="m", base=A, attributes={"pose": Blend(donor=B, weight=1.0)}, x_T="inferred", seed=0,
                        steps=4, sampler="ddim")
    cond, x = condition_rows(ed, gae, lat)
    assert torch.equal(cond, ed.condition(rows_for(ed, gae, lat)[0])) and torch.equal(x, lat[A].x_T)
    diffae = RecombineSpec(model="m", base=A, attributes={"pose": Blend(donor=None, value="3", weight=0.3)}, x_T="random", seed=5,
                           steps=4, sampler="ddim", method="diffae")
    cond, x = condition_rows(ed, diffae, lat)
    assert torch.allclose(cond, ed.diffae_code(lat[A].z_sem, {"pose": ("3", 0.3)})) and torch.equal(x, ed.random_x_T([5]))
    still = diffae.model_copy(update={"attributes": {"pose": Blend(donor=None, value="3", weight=0.0)}, "x_T": "inferred"})
    assert torch.allclose(condition_rows(ed, still, lat)[0], lat[A].z_sem, atol=1e-5)  # amplitude 0: no change

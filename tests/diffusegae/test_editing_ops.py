import pytest
import torch

from diffusegae.editing import Latents, interpolate, recombine, slerp

SLICES = {"identity": slice(0, 3), "background": slice(3, 5), "pose": slice(5, 7)}


def test_recombine_weights_blend_and_extrapolate():
    base, donor = torch.zeros(2, 7), torch.ones(2, 7)
    out = recombine(base, {"background": (donor, 1.0), "pose": (donor, torch.tensor([0.5, 1.5]))}, SLICES)
    assert torch.equal(out[:, :3], base[:, :3]), "unnamed chunks keep the base"
    assert torch.equal(out[:, 3:5], donor[:, 3:5])
    assert torch.allclose(out[:, 5:], torch.tensor([[0.5, 0.5], [1.5, 1.5]]))
    assert torch.equal(recombine(base, {"identity": (donor, 0.0)}, SLICES), base)
    with pytest.raises(KeyError, match="unknown attribute 'colour'"):
        recombine(base, {"colour": (donor, 1.0)}, SLICES)


def test_slerp_endpoints_and_norm():
    a, b = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    assert abs(mid.norm() - (a.norm() + b.norm()) / 2) < 0.1 * a.norm()


def test_single_attribute_interpolation_keeps_base_x_T():
    a = Latents(torch.zeros(1, 4), torch.zeros(1, 7), torch.randn(1, 3, 4, 4))
    b = Latents(torch.ones(1, 4), torch.ones(1, 7), torch.randn(1, 3, 4, 4))
    z, x = interpolate(a, b, [0.0, 0.5, 1.0], SLICES, ["pose"])
    assert torch.allclose(z[:, 5:], torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))
    assert torch.equal(z[:, :5], torch.zeros(3, 5))
    assert torch.equal(x, a.x_T.expand(3, 3, 4, 4))
    z, x = interpolate(a, b, [0.0, 1.0], SLICES)
    assert torch.equal(z[1], b.z_dis[0]) and torch.allclose(x[1], b.x_T[0], atol=1e-5)

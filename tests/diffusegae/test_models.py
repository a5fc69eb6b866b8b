import pytest
import torch

from diffusegae.config import AutoencoderConfig
from diffusegae.models.autoencoder import DiffusionAutoencoder

SMALL = dict(z_sem_dim=32, unet_channels=16, unet_mult=(1, 2), unet_attn_res=(), enc_channels=8, enc_mult=(1, 2),
             enc_blocks=1, enc_attn_stages=1, heads=2)


def test_space_to_depth_unet_keeps_the_image_shape_and_sees_every_pixel():
    torch.manual_seed(0)
    ae = DiffusionAutoencoder(AutoencoderConfig(resolution=16, unet_patch=2, **SMALL))
    for p in ae.unet.out.parameters():  # the zero-initialised output layer would hide the path
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    out = ae.unet(x, torch.tensor([10, 500]), torch.randn(2, 32))
    assert out.shape == x.shape
    out[0, :, 5, 6].sum().backward()  # an output pixel depends on the input pixels around it, any phase
    assert x.grad[0, :, 5, 6].abs().sum() > 0 and x.grad[0, :, 4, 7].abs().sum() > 0


def test_patch_must_divide_the_resolution():
    with pytest.raises(ValueError, match="unet_patch"):
        AutoencoderConfig(resolution=18, unet_patch=2, **SMALL)

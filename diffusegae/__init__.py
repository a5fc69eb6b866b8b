"""DiffuseGAE: diffusion autoencoder + group-supervised autoencoder for attribute editing."""

__version__ = "0.1.0"

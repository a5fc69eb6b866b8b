"""The editing API the service and the CLI call: encode, recombine, decode, interpolate.

A model is loaded from a model folder (`diffusegae.model_folder`). Nothing here knows about HTTP or queues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from diffusegae.checkpoint import CheckpointError
from diffusegae.config import AutoencoderConfig, GAEConfig
from diffusegae.data.images import square_resize, to_image, to_tensor
from diffusegae.diffusion.samplers import SAMPLERS, Sampler, model_calls
from diffusegae.diffusion.schedule import DEFAULT_SPACING
from diffusegae.domain import DomainCheck, load_domain
from diffusegae.fitting.directions import load_directions
from diffusegae.fitting.directions import move as move_along
from diffusegae.fitting.prototypes import load_prototypes
from diffusegae.model_folder import ModelFolder, load_parts
from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.models.gae import GroupAutoencoder
from diffusegae.runtime import Runtime, load_runtime, torch_runtime

Progress = Callable[[int, int], None]  # (steps done, total steps)


@dataclass
class Latents:
    z_sem: torch.Tensor  # (B, 512) semantic code from the encoder
    z_dis: torch.Tensor  # (B, D) disentangled code, chunks in attribute order
    x_T: torch.Tensor  # (B, 3, R, R) stochastic code from DDIM inversion

    def __getitem__(self, idx) -> Latents:
        return Latents(self.z_sem[idx], self.z_dis[idx], self.x_T[idx])


# --- pure operations on codes -------------------------------------------------------------

def recombine(base: torch.Tensor, donors: Mapping[str, tuple[torch.Tensor, float | torch.Tensor]],
              slices: Mapping[str, slice]) -> torch.Tensor:
    """Blend z_dis chunks: chunk = base + w (donor - base) per named attribute.

    base (B, D); donors maps an attribute to (donor z_dis (B, D) or (D,), weight float or (B,)).
    w = 0 keeps the base, 1 takes the donor, outside [0, 1] extrapolates. Unnamed chunks stay.
    """
    out = base.clone()
    for name, (donor, weight) in donors.items():
        if name not in slices:
            raise KeyError(f"unknown attribute {name!r}; the model has {list(slices)}")
        sl = slices[name]
        w = torch.as_tensor(weight, dtype=base.dtype, device=base.device)
        w = w.reshape(-1, 1) if w.dim() == 1 else w
        out[:, sl] = base[:, sl] + w * (donor.to(base).expand_as(base)[:, sl] - base[:, sl])
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, w: float) -> torch.Tensor:
    """Spherical interpolation per sample of tensors (B, ...), as Diff-AE does for x_T."""
    af, bf = a.flatten(1), b.flatten(1)
    cos = (af * bf).sum(1) / (af.norm(dim=1) * bf.norm(dim=1)).clamp_min(1e-12)
    theta = torch.arccos(cos.clamp(-1, 1))[:, None]
    s = torch.sin(theta)
    wa = torch.where(s > 1e-6, torch.sin((1 - w) * theta) / s.clamp_min(1e-12), torch.full_like(s, 1 - w))
    wb = torch.where(s > 1e-6, torch.sin(w * theta) / s.clamp_min(1e-12), torch.full_like(s, w))
    return (wa * af + wb * bf).reshape(a.shape)


def interpolate(a: Latents, b: Latents, weights: Sequence[float], slices: Mapping[str, slice],
                attributes: Sequence[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames between one pair of codes (batch 1 each): lerp z_dis, slerp x_T.

    `attributes` limits the lerp to those chunks (single-attribute interpolation); None means all.
    Only the all-attribute interpolation slerps x_T towards b's: x_T carries most of the picture's
    detail, so moving it in a single-attribute interpolation would end on b's image, not on a with
    b's attribute.
    -> z_dis (N, D), x_T (N, 3, R, R) for N = len(weights).
    """
    names = list(slices) if attributes is None else list(attributes)
    z = torch.cat([recombine(a.z_dis, {n: (b.z_dis, w) for n in names}, slices) for w in weights])
    if set(names) == set(slices):
        x = torch.cat([slerp(a.x_T, b.x_T, w) for w in weights])
    else:
        x = a.x_T.expand(len(weights), *a.x_T.shape[1:])
    return z, x


# --- the model -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    name: str
    attributes: tuple[str, ...]
    chunk_sizes: tuple[int, ...]
    values: tuple[tuple[str, ...], ...]  # value names per attribute
    resolution: int
    default_steps: int
    default_sampler: str
    num_timesteps: int  # T of the noise schedule: requests may ask for 1 .. T steps (2 .. T with linspace)
    spacing: str = DEFAULT_SPACING  # how sampling steps spread over the schedule (model.json)
    description: str = ""  # what inputs the model knows (model.json)
    dataset: str = ""
    # per example image that exists (ModelFolder.examples), its value name per attribute ({}: not known)
    example_labels: tuple[dict[str, str], ...] = ()

    @property
    def min_steps(self) -> int:
        return 2 if self.spacing == "linspace" else 1

    @property
    def samplers(self) -> tuple[str, ...]:
        return tuple(SAMPLERS)


def model_info(folder: ModelFolder, ae_cfg: AutoencoderConfig, gae_cfg: GAEConfig) -> ModelInfo:
    """What a model folder says of itself, from its manifest and its stages' configs."""
    manifest = folder.read_manifest()
    missing = [a for a in gae_cfg.attributes if a not in manifest.values]
    if missing:
        raise CheckpointError(f"{folder.manifest_path}: no value names for attribute(s) {missing}")
    if ae_cfg.z_sem_dim != gae_cfg.z_sem_dim:
        raise CheckpointError(f"{folder.root}: autoencoder z_sem {ae_cfg.z_sem_dim} != GAE z_sem {gae_cfg.z_sem_dim}")
    return ModelInfo(name=manifest.name, attributes=gae_cfg.attributes, chunk_sizes=gae_cfg.chunk_sizes,
                     values=tuple(manifest.values[a] for a in gae_cfg.attributes), resolution=ae_cfg.resolution,
                     default_steps=manifest.default_steps, default_sampler=manifest.default_sampler,
                     num_timesteps=ae_cfg.num_timesteps, spacing=manifest.spacing,
                     description=manifest.description, dataset=manifest.dataset,
                     example_labels=tuple(labels for _, labels in folder.examples()))


def read_info(model_dir: Path) -> ModelInfo:
    """A model folder's `ModelInfo` without loading its weights (CheckpointError when the folder is not a model)."""
    folder = ModelFolder(model_dir)
    return model_info(folder, *folder.read_configs())


def load_model(model_dir: Path, device: str | torch.device = "cpu") -> tuple[DiffusionAutoencoder, GroupAutoencoder, ModelInfo]:
    folder = ModelFolder(model_dir)
    ae, gae = load_parts(folder, device)
    return ae, gae, model_info(folder, ae.cfg, gae.cfg)


class Editor:
    """A loaded model with the editing operations; batch dimension first everywhere."""

    def __init__(self, ae: DiffusionAutoencoder, gae: GroupAutoencoder, info: ModelInfo,
                 device: str | torch.device = "cpu", domain: DomainCheck | None = None,
                 runtime: Runtime | None = None, prototypes: Mapping[str, torch.Tensor] | None = None,
                 directions: Mapping[str, torch.Tensor] | None = None) -> None:
        self.ae, self.gae, self.info = ae.eval(), gae.eval(), info
        self.device = torch.device(device)
        self.domain = domain.to(self.device) if domain is not None else None  # None: the model has no statistics
        self.runtime = runtime or torch_runtime(self.ae, self.gae)  # runs the networks (diffusegae.runtime)
        # {attribute: (values, chunk)}, diffusegae.fitting.prototypes; None: no value edits (never fitted)
        self.prototypes = {a: p.to(self.device) for a, p in prototypes.items()} if prototypes is not None else None
        # {attribute: (values, 512)} Diff-AE's unit directions in norm(z_sem), diffusegae.fitting.directions; None: none
        self.directions = {a: d.to(self.device) for a, d in directions.items()} if directions is not None else None

    @classmethod
    def load(cls, model_dir: Path, device: str | torch.device | None = None, *, runtime: str = "torch",
             threads: int | None = None, cache_dir: Path | None = None, bf16_min_batch: int | None = 0) -> Editor:
        """`runtime` "onnx" runs the UNet, the encoder and the GAE with ONNX Runtime on the CPU (`threads` intra-op threads,
        default torch's; exports cached under `cache_dir`), falling back to torch when its check fails."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        ae, gae, info = load_model(model_dir, device)
        rt = load_runtime(ae.eval(), gae.eval(), runtime, threads=threads, cache_dir=cache_dir, bf16_min_batch=bf16_min_batch)
        folder = ModelFolder(model_dir)
        protos = load_prototypes(folder.edits_dir, dict(zip(info.attributes, info.chunk_sizes)),
                                 {a: len(v) for a, v in zip(info.attributes, info.values)})
        dirs = load_directions(folder.edits_dir, {a: len(v) for a, v in zip(info.attributes, info.values)},
                               ae.cfg.z_sem_dim)
        return cls(ae, gae, info, device=device, domain=load_domain(folder.domain_dir), runtime=rt, prototypes=protos,
                   directions=dirs)

    def value_code(self, attribute: str, value: str) -> torch.Tensor:
        """A z_dis (D,) whose `attribute` chunk is the prototype of `value` (the other chunks are zero: a donor for
        `recombine` that moves that chunk only). ValueError for an unknown value or a model without prototypes."""
        if self.prototypes is None:
            raise ValueError(f"model {self.info.name} has no value prototypes: run diffusegae fit-edits on it")
        names = self.info.values[self.info.attributes.index(attribute)]
        if value not in names:
            raise ValueError(f"{attribute} has no value {value!r}; its values: {', '.join(names[:20])}"
                             f"{' ...' if len(names) > 20 else ''}")
        code = torch.zeros(sum(self.info.chunk_sizes), device=self.device)
        code[self.slices[attribute]] = self.prototypes[attribute][names.index(value)]
        return code

    def diffae_code(self, z_sem: torch.Tensor, edits: Mapping[str, tuple[str, float]]) -> torch.Tensor:
        """Diff-AE's direction edit: z_sem (B, 512) moved towards each named value, {attribute: (value, alpha)}
        (diffusegae.fitting.directions.move). ValueError for an unknown value or a model without directions."""
        if self.directions is None:
            raise ValueError(f"model {self.info.name} has no Diff-AE directions: run diffusegae fit-edits on it")
        moves = {}
        for attribute, (value, alpha) in edits.items():
            names = self.info.values[self.info.attributes.index(attribute)]
            if value not in names:
                raise ValueError(f"{attribute} has no value {value!r}; its values: {', '.join(names[:20])}"
                                 f"{' ...' if len(names) > 20 else ''}")
            moves[attribute] = (names.index(value), float(alpha))
        return move_along(z_sem.to(self.device), self.gae, self.directions, moves)

    def judge(self, lat: Latents) -> list[dict] | None:
        """Per image, whether its codes look like the training images' (`diffusegae.domain`); None without
        domain statistics."""
        return None if self.domain is None else self.domain.judge(self.gae, lat.z_sem, lat.z_dis, self.slices)

    @property
    def slices(self) -> dict[str, slice]:
        return self.gae.cfg.chunk_slices()

    def chunks(self, z_dis: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, D) -> {attribute: (B, chunk)}."""
        return {a: z_dis[:, sl] for a, sl in self.slices.items()}

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """PIL images of any size -> (B, 3, R, R) in [-1, 1] (centre crop + resize)."""
        return torch.stack([to_tensor(square_resize(im, self.info.resolution)) for im in images]).to(self.device)

    @staticmethod
    def to_images(x: torch.Tensor) -> list[Image.Image]:
        return [to_image(xi) for xi in x]

    def _check(self, steps: int, sampler: str) -> tuple[list[int], Sampler]:
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose from {list(SAMPLERS)}")
        return self.ae.schedule.timesteps(steps, self.info.spacing), SAMPLERS[sampler]

    def condition(self, z_dis: torch.Tensor) -> torch.Tensor:
        """z_dis (B, D) -> the z_sem the UNet is conditioned on, D(z_dis) de-normalised."""
        return self.runtime.condition(z_dis)

    def _progress(self, progress: Progress | None, offset: int, total: int):
        if progress is None:
            return None
        return lambda info: progress(offset + info["i"] + 1, total)

    @torch.no_grad()
    def z_dis_of(self, x0: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, R, R) -> z_dis (B, D), without the inversion."""
        return self.runtime.z_dis_of(self.runtime.encode(x0.to(self.device)))

    @torch.no_grad()
    def encode(self, x0: torch.Tensor, *, steps: int | None = None, sampler: str | None = None,
               progress: Progress | None = None) -> Latents:
        """Images (B, 3, R, R) in [-1, 1] -> z_sem, z_dis and the inferred x_T."""
        steps = steps or self.info.default_steps
        ts, walks = self._check(steps, sampler or self.info.default_sampler)
        x0 = x0.to(self.device)
        z_sem = self.runtime.encode(x0)
        z_dis = self.runtime.z_dis_of(z_sem)
        x_T = walks.invert(self.runtime.eps, x0, ts, self.ae.schedule, cond=self.condition(z_dis), from_clean=True,
                     callback=self._progress(progress, 0, model_calls(ts, invert=True, from_clean=True)))
        return Latents(z_sem, z_dis, x_T)

    @torch.no_grad()
    def decode(self, z_dis: torch.Tensor, x_T: torch.Tensor, *, steps: int | None = None, sampler: str | None = None,
               progress: Progress | None = None,
               x0: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """z_dis (B, D) and x_T (B, 3, R, R) -> images (B, 3, R, R) in [-1, 1].

        `x0(done, x0_hat)` after every step: the sampler's current clean-image estimate (B, 3, R, R), for previews."""
        return self.decode_z_sem(self.condition(z_dis.to(self.device)), x_T, steps=steps, sampler=sampler,
                                 progress=progress, x0=x0)

    @torch.no_grad()
    def decode_z_sem(self, cond: torch.Tensor, x_T: torch.Tensor, *, steps: int | None = None,
                     sampler: str | None = None, progress: Progress | None = None,
                     x0: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
        """The decoder conditioned on z_sem (B, 512) itself (Diff-AE's edits; `decode` conditions on D(z_dis))."""
        steps = steps or self.info.default_steps
        ts, walks = self._check(steps, sampler or self.info.default_sampler)
        cond = cond.to(self.device)
        callback = self._progress(progress, 0, len(ts))
        if x0 is not None:
            report = callback

            def callback(info: dict) -> None:
                x0(info["i"] + 1, info["x0_hat"])
                if report is not None:
                    report(info)
        return walks.sample(self.runtime.eps, x_T.to(self.device), ts, self.ae.schedule, cond=cond, callback=callback)

    def random_x_T(self, seeds: Sequence[int]) -> torch.Tensor:
        """One seeded N(0, I) stochastic code per seed: (B, 3, R, R)."""
        r = self.info.resolution
        return torch.stack([torch.randn(3, r, r, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).to(
            self.device)

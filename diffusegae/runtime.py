"""Inference runtimes: what runs the networks for `Editor`: the UNet's eps, the semantic encoder and the GAE.

- "torch": the modules themselves; channels_last on CUDA; bf16 autocast for batches of `bf16_min_batch` or
  more (0, the library's default: never; None: all batches on CUDA, none on the CPU, the service's default:
  README, "Inference runtime": bf16 did not pay on the CPU measured).
- "onnx": ONNX Runtime on the CPU. eps (x_t, t, z_sem) -> eps (whatever the UNet's parametrisation), the
  encoder and both directions of the GAE (z_sem <-> z_dis, normalisation included) are exported with the
  TorchScript exporter (dynamic batch) from the loaded weights into a cache folder keyed on the weights, the
  configs and the model code (`onnx_key`), so a second load only opens the files; the shipped model folder is
  never written. At every load the ONNX outputs are checked against torch on seeded random inputs; an export or
  a check that fails falls back to torch, with a warning and the reason in `Runtime.note`.

The samplers stay pure functions of an eps callable: a runtime only supplies that callable.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.models.gae import GroupAutoencoder

log = logging.getLogger("diffusegae.runtime")

RUNTIMES = ("onnx", "torch")
EXPORT_VERSION = 1  # bump when what is exported (inputs, outputs, opset, exporter options) changes
OPSET = 17
CHECK_RTOL = 1e-4  # ONNX vs torch on load: max |diff| <= CHECK_RTOL * max(1, max |torch output|)
_MODEL_CODE = Path(__file__).resolve().parent / "models"  # its source is part of the export's cache key

EpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t, z_sem) -> eps
MapFn = Callable[[torch.Tensor], torch.Tensor]  # one tensor in, one out


@dataclass
class Runtime:
    name: str  # what runs the model: "onnx" or "torch"
    eps: EpsFn  # (B, 3, R, R), (B,) long, (B, Z) -> (B, 3, R, R)
    encode: MapFn  # x0 (B, 3, R, R) in [-1, 1] -> z_sem (B, Z)
    z_dis_of: MapFn  # the GAE's E: z_sem (B, Z) -> z_dis (B, D)
    condition: MapFn  # the GAE's D: z_dis (B, D) -> the z_sem the UNet is conditioned on (B, Z)
    note: str = ""  # why the runtime asked for is not the one in use ("" when it is)
    detail: str = ""  # e.g. "bf16 from batch 1, channels_last", "2 threads"


class RuntimeCheckFailed(RuntimeError):
    """The ONNX model's outputs differ from torch's on the same input."""


# --- torch ---------------------------------------------------------------------------------------------------

def torch_runtime(ae: DiffusionAutoencoder, gae: GroupAutoencoder, *, bf16_min_batch: int | None = 0) -> Runtime:
    """The modules as they are; for the UNet and the encoder bf16 autocast for batches of `bf16_min_batch` or more
    (0: never; None: 1 on CUDA, never on the CPU) and channels_last on CUDA. Outputs are fp32 either way; the GAE
    (a small MLP) always runs in fp32."""
    device = next(ae.parameters()).device
    cuda = device.type == "cuda"
    min_batch = (1 if cuda else 0) if bf16_min_batch is None else bf16_min_batch
    if cuda:
        ae.to(memory_format=torch.channels_last)

    def run(fn: Callable[..., torch.Tensor], x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        if min_batch and x.shape[0] >= min_batch:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                return fn(x, *rest).float().contiguous()
        return fn(x, *rest).contiguous()

    detail = ", ".join(([f"bf16 from batch {min_batch}"] if min_batch else ["fp32"]) + (["channels_last"] if cuda else []))
    return Runtime("torch", lambda x, t, z: run(ae.eps, x, t, z), lambda x0: run(ae.encode, x0), gae.z_dis_of,
                   gae.z_sem_of, detail=detail)


# --- ONNX Runtime -------------------------------------------------------------------------------------------

class _Method(nn.Module):
    """module.<method> as a module's forward, for the exporter (ae.eps, gae.z_sem_of, ...)."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module, self.method = module, method

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return getattr(self.module, self.method)(*args)


def default_cache_dir() -> Path:
    """$DIFFUSEGAE_CACHE_DIR, else $XDG_CACHE_HOME/diffusegae, else ~/.cache/diffusegae."""
    if os.environ.get("DIFFUSEGAE_CACHE_DIR"):
        return Path(os.environ["DIFFUSEGAE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diffusegae"


def onnx_key(ae: DiffusionAutoencoder, gae: GroupAutoencoder) -> str:
    """Changes when the weights, the configs, the model code, torch (the exporter) or the export change."""
    h = hashlib.sha256(f"export:{EXPORT_VERSION};opset:{OPSET};torch:{torch.__version__};".encode())
    for part, module in (("ae", ae), ("gae", gae)):
        h.update(json.dumps({part: asdict(module.cfg)}, sort_keys=True, default=list).encode())
        for name, t in sorted(module.state_dict().items()):  # the GAE's buffers (z_sem mean, std) included
            h.update(f"{part}.{name}:{tuple(t.shape)}:{t.dtype};".encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    for p in sorted(_MODEL_CODE.glob("*.py")) + [Path(__file__).resolve().parent / "diffusion" / "schedule.py"]:
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def _example_inputs(ae: DiffusionAutoencoder, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    r, cfg = ae.cfg.resolution, ae.cfg
    x = torch.randn(batch, cfg.in_channels, r, r, generator=g)
    t = torch.randint(0, cfg.num_timesteps, (batch,), generator=g)
    t[0] = 0  # the step to the clean image and the first step of an inversion use t = 0
    return x, t, torch.randn(batch, cfg.z_sem_dim, generator=g)


def _export(module: nn.Module, args: tuple, names: list[str], path: Path) -> None:
    """module(*args) -> ONNX at `path` (written beside it, then renamed: other processes never see half a file)."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints taken from shapes
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=OPSET, input_names=names[:-1],
                          output_names=names[-1:], dynamic_axes={n: {0: "batch"} for n in names})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _check(what: str, got: torch.Tensor, ref: torch.Tensor) -> None:
    err = (got - ref).abs().max().item()
    tol = CHECK_RTOL * max(1.0, ref.abs().max().item())
    if not err <= tol:  # also catches NaN
        raise RuntimeCheckFailed(f"{what}: ONNX Runtime differs from torch by {err:.3g} (tolerance {tol:.3g})")


def _exports(ae: DiffusionAutoencoder, gae: GroupAutoencoder, batch: int, seed: int) -> dict[str, tuple]:
    """file stem -> (module to export, example inputs, input names + output name)."""
    x, t, z_sem = _example_inputs(ae, batch, seed)
    z_dis = torch.randn(batch, gae.cfg.z_dis_dim, generator=torch.Generator().manual_seed(seed))
    return {"eps": (_Method(ae, "eps"), (x, t, z_sem), ["x_t", "t", "z_sem", "eps"]),
            "encoder": (ae.encoder, (x,), ["x0", "z_sem"]),
            "gae_encode": (_Method(gae, "z_dis_of"), (z_sem,), ["z_sem", "z_dis"]),
            "gae_decode": (_Method(gae, "z_sem_of"), (z_dis,), ["z_dis", "z_sem"])}


def onnx_runtime(ae: DiffusionAutoencoder, gae: GroupAutoencoder, *, threads: int | None = None,
                 cache_dir: Path | None = None) -> Runtime:
    """ONNX Runtime sessions for eps, the encoder and the GAE, exported into `cache_dir`/onnx/<onnx_key> unless
    there, checked against torch; raises whatever the export raises, or `RuntimeCheckFailed`."""
    if next(ae.parameters()).device.type != "cpu":
        raise ValueError("the onnx runtime runs on the CPU only; load the model with device='cpu'")
    threads = threads or torch.get_num_threads()
    folder = Path(cache_dir or default_cache_dir()) / "onnx" / onnx_key(ae, gae)
    ae.eval(), gae.eval()
    run: dict[str, Callable[..., torch.Tensor]] = {}
    for stem, (module, args, names) in _exports(ae, gae, 2, 0).items():
        path = folder / f"{stem}.onnx"
        if not path.is_file():
            log.info("exporting %s to %s", stem, path)
            _export(module, args, names, path)
        run[stem] = _runner(_session(path, threads), names[:-1])

    # another batch size than the export's: the batch axis is dynamic
    with torch.no_grad():
        for stem, (module, args, _) in _exports(ae, gae, 3, 1).items():
            _check(stem, run[stem](*args), module(*args))
    return Runtime("onnx", run["eps"], run["encoder"], run["gae_encode"], run["gae_decode"],
                   detail=f"{threads} thread{'s' if threads > 1 else ''}, {folder}")


def _runner(session, names: list[str]) -> Callable[..., torch.Tensor]:
    """An ONNX Runtime session as a function of torch tensors (t is int64, everything else float32)."""

    def run(*args: torch.Tensor) -> torch.Tensor:
        feed = {n: a.detach().to(torch.long if n == "t" else torch.float32).contiguous().numpy() for n, a in zip(names, args)}
        return torch.from_numpy(session.run(None, feed)[0])

    return run


def load_runtime(ae: DiffusionAutoencoder, gae: GroupAutoencoder, name: str = "torch", *, threads: int | None = None,
                 cache_dir: Path | None = None, bf16_min_batch: int | None = 0) -> Runtime:
    """The runtime `name` for `ae`; "onnx" falls back to torch (logged, `note` says why) when its export or its
    check against torch fails, or the model is not on the CPU."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; choose from {list(RUNTIMES)}")
    if name == "onnx" and next(ae.parameters()).device.type != "cpu":
        note = f"onnx runtime not used: it runs on the CPU only, the model is on {next(ae.parameters()).device}"
        log.info("%s; running the model with torch", note)
        rt = torch_runtime(ae, gae, bf16_min_batch=bf16_min_batch)
        rt.note = note
        return rt
    if name == "onnx":
        try:
            return onnx_runtime(ae, gae, threads=threads, cache_dir=cache_dir)
        except Exception as e:  # noqa: BLE001 - any failure of the export, the session or the check
            note = f"onnx runtime not used: {type(e).__name__}: {e}"
            log.warning("%s; running the model with torch", note)
            rt = torch_runtime(ae, gae, bf16_min_batch=bf16_min_batch)
            rt.note = note
            return rt
    return torch_runtime(ae, gae, bf16_min_batch=bf16_min_batch)

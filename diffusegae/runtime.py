"""Inference runtimes: what runs the UNet's eps and the semantic encoder for `Editor`.

- "torch": the modules themselves. On CUDA they run channels_last under bf16 autocast (batches of
  `bf16_min_batch` or more; default on CUDA: all of them); on the CPU in fp32 unless `bf16_min_batch` says
  otherwise (README, "Inference runtime": bf16 did not pay on the CPUs measured).
- "onnx": ONNX Runtime on the CPU. eps (x_t, t, z_sem) -> eps (whatever the UNet's parametrisation) and the
  encoder are exported with the TorchScript exporter (dynamic batch) from the loaded weights into a cache
  folder keyed on the weights, the config and the model code (`onnx_key`), so a second load only opens the
  files; the shipped model folder is never written. At every load the ONNX outputs are checked against torch on
  seeded random inputs; an export or a check that fails falls back to torch, with a warning and the reason
  in `Runtime.note`.

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

log = logging.getLogger("diffusegae.runtime")

RUNTIMES = ("onnx", "torch")
EXPORT_VERSION = 1  # bump when what is exported (inputs, outputs, opset, exporter options) changes
OPSET = 17
CHECK_RTOL = 1e-4  # ONNX vs torch on load: max |diff| <= CHECK_RTOL * max(1, max |torch output|)
_MODEL_CODE = Path(__file__).resolve().parent / "models"  # its source is part of the export's cache key

EpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t, z_sem) -> eps
EncodeFn = Callable[[torch.Tensor], torch.Tensor]  # x0 (B, 3, R, R) -> z_sem (B, Z)


@dataclass
class Runtime:
    name: str  # what runs the model: "onnx" or "torch"
    eps: EpsFn  # (B, 3, R, R), (B,) long, (B, Z) -> (B, 3, R, R)
    encode: EncodeFn  # (B, 3, R, R) in [-1, 1] -> (B, Z)
    note: str = ""  # why the runtime asked for is not the one in use ("" when it is)
    detail: str = ""  # e.g. "bf16 from batch 1, channels_last", "2 threads"


class RuntimeCheckFailed(RuntimeError):
    """The ONNX model's outputs differ from torch's on the same input."""


# --- torch ---------------------------------------------------------------------------------------------------

def torch_runtime(ae: DiffusionAutoencoder, *, bf16_min_batch: int | None = None) -> Runtime:
    """The modules as they are; bf16 autocast for batches of `bf16_min_batch` or more (None: 1 on CUDA, never on
    the CPU; 0: never) and channels_last on CUDA. Outputs are fp32 either way."""
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
    return Runtime("torch", lambda x, t, z: run(ae.eps, x, t, z), lambda x0: run(ae.encode, x0), detail=detail)


# --- ONNX Runtime -------------------------------------------------------------------------------------------

class _Eps(nn.Module):
    """ae.eps as a module, for the exporter: (x_t, t, z_sem) -> eps."""

    def __init__(self, ae: DiffusionAutoencoder) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        return self.ae.eps(x_t, t, z_sem)


def default_cache_dir() -> Path:
    """$DIFFUSEGAE_CACHE_DIR, else $XDG_CACHE_HOME/diffusegae, else ~/.cache/diffusegae."""
    if os.environ.get("DIFFUSEGAE_CACHE_DIR"):
        return Path(os.environ["DIFFUSEGAE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diffusegae"


def onnx_key(ae: DiffusionAutoencoder) -> str:
    """Changes when the weights, the config, the model code, torch (the exporter) or the export change."""
    h = hashlib.sha256(f"export:{EXPORT_VERSION};opset:{OPSET};torch:{torch.__version__};".encode())
    h.update(json.dumps(asdict(ae.cfg), sort_keys=True, default=list).encode())
    for name, t in sorted(ae.state_dict().items()):
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
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


def onnx_runtime(ae: DiffusionAutoencoder, *, threads: int | None = None, cache_dir: Path | None = None) -> Runtime:
    """ONNX Runtime sessions for eps and the encoder, exported into `cache_dir`/onnx/<onnx_key> unless there,
    checked against torch; raises whatever the export raises, or `RuntimeCheckFailed`."""
    if next(ae.parameters()).device.type != "cpu":
        raise ValueError("the onnx runtime runs on the CPU only; load the model with device='cpu'")
    threads = threads or torch.get_num_threads()
    folder = Path(cache_dir or default_cache_dir()) / "onnx" / onnx_key(ae)
    eps_path, enc_path = folder / "eps.onnx", folder / "encoder.onnx"
    ae.eval()
    if not eps_path.is_file():
        log.info("exporting the UNet to %s", eps_path)
        _export(_Eps(ae), _example_inputs(ae, 2, 0), ["x_t", "t", "z_sem", "eps"], eps_path)
    if not enc_path.is_file():
        log.info("exporting the encoder to %s", enc_path)
        _export(ae.encoder, _example_inputs(ae, 2, 0)[:1], ["x0", "z_sem"], enc_path)
    eps_sess, enc_sess = _session(eps_path, threads), _session(enc_path, threads)

    def eps(x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        feed = {"x_t": x.detach().float().contiguous().numpy(), "t": t.detach().long().contiguous().numpy(),
                "z_sem": z.detach().float().contiguous().numpy()}
        return torch.from_numpy(eps_sess.run(None, feed)[0])

    def encode(x0: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(enc_sess.run(None, {"x0": x0.detach().float().contiguous().numpy()})[0])

    x, t, z = _example_inputs(ae, 3, 1)  # another batch size than the export's: the batch axis is dynamic
    with torch.no_grad():
        _check("eps", eps(x, t, z), ae.eps(x, t, z))
        _check("encoder", encode(x), ae.encode(x))
    return Runtime("onnx", eps, encode, detail=f"{threads} thread{'s' if threads > 1 else ''}, {folder}")


def load_runtime(ae: DiffusionAutoencoder, name: str = "torch", *, threads: int | None = None,
                 cache_dir: Path | None = None, bf16_min_batch: int | None = None) -> Runtime:
    """The runtime `name` for `ae`; "onnx" falls back to torch (logged, `note` says why) when its export or its
    check against torch fails, or the model is not on the CPU."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; choose from {list(RUNTIMES)}")
    if name == "onnx" and next(ae.parameters()).device.type != "cpu":
        note = f"onnx runtime not used: it runs on the CPU only, the model is on {next(ae.parameters()).device}"
        log.info("%s; running the model with torch", note)
        rt = torch_runtime(ae, bf16_min_batch=bf16_min_batch)
        rt.note = note
        return rt
    if name == "onnx":
        try:
            return onnx_runtime(ae, threads=threads, cache_dir=cache_dir)
        except Exception as e:  # noqa: BLE001 - any failure of the export, the session or the check
            note = f"onnx runtime not used: {type(e).__name__}: {e}"
            log.warning("%s; running the model with torch", note)
            rt = torch_runtime(ae, bf16_min_batch=bf16_min_batch)
            rt.note = note
            return rt
    return torch_runtime(ae, bf16_min_batch=bf16_min_batch)

"""Reconstruction and edit error against the number of sampling steps, per sampler and timestep spacing.

    python benchmarks/bench_steps.py --model models/toys-32 --images 32 --pairs 16 --threads 1

On `--images` seeded held-out renders of the model's dataset (`spread_rows` of the test split):

- reconstruction MSE: invert each image at S steps (its own z_sem), decode back at S steps, MSE in [0, 1] units;
- edit error: `--pairs` base/donor pairs among those images, each edited once per attribute (the donor's chunk,
  weight 1, decoded with the base's inferred x_T); MSE of the S-step edit against the same edit at 100 DDIM
  steps with the same spacing (inversion and decode both at the reference setting).

Settings (`--settings`, columns of the tables):

- "before": the library before issue 15: "linspace" timesteps (0 .. T-1 evenly, so at least 2 steps), inversion
  from the image taken as x_0, and DDIM decoding mixing the clamped x0_hat with the model's unclamped eps (that
  function is kept here, `legacy_ddim_sample`; DPM-Solver++(2M) ran the same code then on these paths);
- "after": the library now (`Editor`): the default spacing (`schedule.DEFAULT_SPACING`), inversion from the clean
  image, DDIM with the eps that goes with the clamped x0_hat;
- "linspace", "trailing", "lambda": the library now with that spacing ("linspace" inverting from x_0).

Prints Markdown tables; `--json` keeps every number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diffusegae.data.dataset import RENDERED_KINDS, load_rendered  # noqa: E402
from diffusegae.diffusion.samplers import SAMPLERS, Sampler, ddim_invert  # noqa: E402
from diffusegae.diffusion.schedule import DEFAULT_SPACING, SPACINGS, NoiseSchedule  # noqa: E402
from diffusegae.editing import Editor  # noqa: E402
from diffusegae.evaluation.metrics import mse01  # noqa: E402
from diffusegae.fitting.steps import edit_error, edit_set, measure  # noqa: E402
from diffusegae.model_folder import ModelFolder  # noqa: E402

STEPS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 50)
SETTINGS = ("before", "after", *SPACINGS)


@torch.no_grad()
def legacy_ddim_sample(eps_model, x_T: torch.Tensor, timesteps: list[int], schedule: NoiseSchedule, *,
                       cond: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """DDIM decoding as it was before issue 15 (commit 99d40be): the clamped x0_hat with the unclamped eps."""
    x = x_T
    path = sorted(timesteps, reverse=True) + [-1]
    for t, t_next in zip(path, path[1:]):
        eps = eps_model(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long), cond)
        abar = float(schedule.abar[t])
        x0_hat = (x - (1 - abar) ** 0.5 * eps) / abar**0.5
        if clip:
            x0_hat = x0_hat.clamp(-1, 1)
        abar_next = 1.0 if t_next < 0 else float(schedule.abar[t_next])
        x = abar_next**0.5 * x0_hat + (1 - abar_next) ** 0.5 * eps
    return x


def setting_kwargs(setting: str, sampler: str) -> dict:
    """measure()'s arguments for one column."""
    if setting == "before":
        fns = Sampler(legacy_ddim_sample, ddim_invert) if sampler == "ddim" else None
        return {"spacing": "linspace", "from_clean": False, "fns": fns}
    if setting == "after":
        return {"spacing": DEFAULT_SPACING}
    return {"spacing": setting}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "toys-32")
    p.add_argument("--images", type=int, default=32, help="held-out images (a seeded spread of the test split)")
    p.add_argument("--pairs", type=int, default=16, help="base/donor pairs, each edited once per attribute")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, nargs="+", default=list(STEPS))
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    p.add_argument("--settings", nargs="+", default=["before", "after"], choices=list(SETTINGS))
    p.add_argument("--reference-steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    ed = Editor.load(args.model, "cpu")
    kind = ModelFolder(args.model).read_manifest().dataset
    data = load_rendered(kind if kind in RENDERED_KINDS else "toys", ed.info.resolution, "test")
    es = edit_set(data, images=args.images, pairs=args.pairs, seed=args.seed)
    log = lambda m: print(f"[{time.perf_counter() - started:6.0f} s] {m}", file=sys.stderr, flush=True)  # noqa: E731

    recon: dict[str, dict[str, dict[int, float]]] = {}
    edit: dict[str, dict[str, dict[int, float]]] = {}
    refs = {}
    for sp in args.settings:
        refs[sp] = measure(ed, es, sampler="ddim", steps=args.reference_steps, **setting_kwargs(sp, "ddim"))
        log(f"{sp}: reference ddim {args.reference_steps} steps, reconstruction MSE {refs[sp].recon_mse:.2e}")
        for name in args.samplers:
            for steps in args.steps:
                if steps < 2 and setting_kwargs(sp, name)["spacing"] == "linspace":
                    continue  # linspace needs both ends, 0 and T-1
                m = measure(ed, es, sampler=name, steps=steps, **setting_kwargs(sp, name))
                recon.setdefault(name, {}).setdefault(sp, {})[steps] = m.recon_mse
                edit.setdefault(name, {}).setdefault(sp, {})[steps] = edit_error(m, refs[sp])
                log(f"{sp} {name} {steps} steps: reconstruction {m.recon_mse:.2e}, edit {edit[name][sp][steps]:.2e}")

    def table(title: str, vals: dict) -> str:
        cols = [(name, sp) for name in args.samplers for sp in args.settings]
        head = "| steps | " + " | ".join(f"{name} {sp}" for name, sp in cols) + " |"
        lines = [f"{title}", "", head, "|" + " --- |" * (len(cols) + 1)]
        for steps in args.steps:
            cells = [f"{vals[name][sp][steps]:.1e}" if steps in vals[name][sp] else "—" for name, sp in cols]
            lines.append(f"| {steps} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    # what z_sem alone gives: the images decoded from a random x_T (the level the few-step rows sit near)
    with torch.no_grad():
        x_T = torch.randn(es.x0.shape, generator=torch.Generator().manual_seed(args.seed))
        ts = ed.ae.schedule.timesteps(args.reference_steps)
        rand = mse01(SAMPLERS["ddim"].sample(ed.ae.eps, x_T, ts, ed.ae.schedule, cond=ed.condition(ed.z_dis_of(es.x0))), es.x0)
    edits = es.bases.numel()
    print(f"model {args.model}, {es.x0.shape[0]} held-out images, {edits} edits ({args.pairs} pairs x "
          f"{len(data.attributes)} attributes), torch threads {args.threads}, {time.perf_counter() - started:.0f} s\n")
    print(table("Reconstruction MSE (inferred x_T, images in [0, 1])", recon) + "\n")
    print(table(f"Edit error (MSE against the same edit at {args.reference_steps} DDIM steps)", edit) + "\n")
    for sp in args.settings:
        print(f"reference ({sp}, ddim {args.reference_steps} steps): reconstruction MSE {refs[sp].recon_mse:.1e}")
    if len(args.settings) > 1:
        a, b = args.settings[:2]
        print(f"the two references' edits differ by MSE {edit_error(refs[a], refs[b]):.1e} ({a} vs {b})")
    print(f"a random x_T instead of the inferred one ({args.reference_steps} DDIM steps): MSE {rand:.1e}")
    result = {"model": str(args.model), "images": int(es.x0.shape[0]), "edits": edits,
              "reference_steps": args.reference_steps, "threads": args.threads,
              "reference_recon_mse": {sp: r.recon_mse for sp, r in refs.items()},
              "random_xT_mse": rand, "recon_mse": recon, "edit_mse": edit,
              "seconds": round(time.perf_counter() - started, 1)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

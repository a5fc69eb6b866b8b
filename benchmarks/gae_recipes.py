#!/usr/bin/env python3
"""Compare GAE recipes on one stage-1 encoder.

Each recipe is trained exactly as `diffusegae train gae` trains (same function, seed 0 unless the
recipe says `seed=N`, on the training split) starting from the model's shipped GAE config, into a
scratch folder; then its perplexity matrix (all images, PAPER.md section 6, or the training split's
with --perplexity-split train), its z_sem round-trip error and its latent
swaps are printed as one JSON line. Latent swaps: held-out bases, each with a held-out donor that
differs in every attribute, swap one chunk and decode to z_sem; linear probes fitted on the
training split's z_sem read the result (the swapped value the donor's, the other two the base's)
-- a cheap stand-in for `diffusegae evaluate`'s swaps, without the UNet. The data is the rendered
set the model's `model.json` names (toys or vehicles).

    python benchmarks/gae_recipes.py --model models/toys-32 --steps 6000 \
        --recipe lambda_align=0,lr_schedule=cosine --recipe lambda_align=1,lr_schedule=constant
    python benchmarks/gae_recipes.py --model models/vehicles-64 --recipe "chunk_sizes=[40,40,20],hidden=512"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
import time
from pathlib import Path

import torch

from diffusegae.checkpoint import load_json
from diffusegae.commands.common import parse_overrides
from diffusegae.config import GAEConfig, from_json_dict
from diffusegae.data.dataset import load_rendered, toys_split
from diffusegae.data.groups import GroupSampler
from diffusegae.editing import recombine
from diffusegae.evaluation.probes import LinearProbe, fit_linear_probe, perplexity_matrix
from diffusegae.model_folder import ModelFolder, load_parts
from diffusegae.models.gae import GroupAutoencoder
from diffusegae.training.common import Runtime
from diffusegae.training.gae import encode_z_sem, train_gae
from diffusegae.training.loop import LoopConfig

LOOP_KEYS = ("lr", "lr_schedule", "seed")


def parse_recipe(text: str, base: GAEConfig) -> tuple[GAEConfig, dict[str, str]]:
    """'k=v,k=v' -> (base with the GAEConfig fields replaced, {loop key: value})."""
    pairs = [kv for kv in re.split(r",(?![^\[]*\])", text) if kv]  # commas inside [...] belong to a value
    loop = dict(kv.split("=", 1) for kv in pairs if kv.split("=", 1)[0] in LOOP_KEYS)
    fields = [kv for kv in pairs if kv.split("=", 1)[0] not in LOOP_KEYS]
    return dataclasses.replace(base, **parse_overrides(GAEConfig, fields)), loop


@torch.no_grad()
def latent_swaps(gae: GroupAutoencoder, probes: list[LinearProbe], z_test: torch.Tensor, labels: torch.Tensor,
                 seed: int = 0) -> list[float]:
    """Per attribute: the share of held-out bases (every row of z_test) whose z_sem with that chunk from a
    donor reads as the base with the donor's value. z_test: (N, 512) held-out z_sem, labels (N, k)."""
    donors = GroupSampler(labels).donors(torch.arange(labels.shape[0]), torch.Generator().manual_seed(seed))
    e_b, e_d = gae.z_dis_of(z_test), gae.z_dis_of(z_test[donors])
    slices = gae.cfg.chunk_slices()
    out = []
    for j, name in enumerate(slices):
        z = gae.z_sem_of(recombine(e_b, {name: (e_d, 1.0)}, slices))
        want = labels.clone()
        want[:, j] = labels[donors, j]
        read = torch.stack([p(z).argmax(1) for p in probes], dim=1)
        out.append((read == want).all(dim=1).float().mean().item())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/toys-32"))
    p.add_argument("--recipe", action="append", required=True,
                   help="comma-separated KEY=VALUE: GAEConfig fields, lr_schedule, lr")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--perplexity-split", choices=("all", "train"), default="all",
                   help="images of the perplexity matrix and round trip: 'train' to choose among GAEs without "
                        "looking at held-out images")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    folder = ModelFolder(args.model)
    ae, _ = load_parts(folder)
    base = from_json_dict(GAEConfig, load_json(folder.gae_weights.with_suffix(".json")))
    dataset = folder.read_manifest().dataset or "toys"
    everything = load_rendered(dataset, ae.cfg.resolution, "all")
    z_all = encode_z_sem(ae, everything.images, torch.device("cpu"))  # (N, 512), encoded once
    train_rows, test_rows = toys_split()  # the rows load_rendered's "train" and "test" splits hold
    train, test = everything.subset(train_rows), everything.subset(test_rows)
    z_train, z_test = z_all[train_rows], z_all[test_rows]
    if args.perplexity_split == "train":
        z_all, everything = z_train, train
    probes = [fit_linear_probe(z_train, train.labels[:, j], n) for j, n in enumerate(train.num_values)]
    with torch.no_grad():
        read = [(p(z_test).argmax(1) == test.labels[:, j]).float().mean().item() for j, p in enumerate(probes)]
    print(json.dumps({"probes_on_held_out_z_sem": [round(v, 3) for v in read]}), flush=True)
    for text in args.recipe:
        cfg, opts = parse_recipe(text, base)
        loop = LoopConfig(steps=args.steps, lr=float(opts.get("lr", 1e-3)),
                          lr_schedule=opts.get("lr_schedule", "constant"), save_every=10**9)
        t0 = time.time()
        with tempfile.TemporaryDirectory() as out:
            gae = train_gae(cfg, ae, train, Path(out), loop, Runtime(torch.device("cpu"), 0, 1),
                            batch_size=args.batch_size, seed=int(opts.get("seed", 0))).eval()
        with torch.no_grad():
            z_dis = gae.z_dis_of(z_all)
            back = gae.roundtrip(z_all)
        rel = ((back - z_all).norm(dim=1) / (z_all - z_all.mean(0)).norm(dim=1)).mean().item()
        pm = perplexity_matrix(z_dis, everything.labels, cfg.chunk_slices(), everything.num_values)
        print(json.dumps({"recipe": text, "steps": args.steps, "train_s": round(time.time() - t0),
                          "perplexity_rows_chunks": [[round(v, 3) for v in r] for r in pm.tolist()],
                          "roundtrip_relative_error": round(rel, 3),
                          "latent_swaps": [round(v, 3) for v in latent_swaps(gae, probes, z_test, test.labels)]}),
              flush=True)


if __name__ == "__main__":
    main()

"""How linearly z_sem holds each attribute: stage 1's learning curve for what the GAE can route.

    python benchmarks/zsem_probe.py models/vehicles-64/autoencoder/model.safetensors [--dataset vehicles] [--threads 1]

Encodes every render of the dataset with the stage-1 weights given (a model's autoencoder/model.safetensors, or
an EMA snapshot of a run) and prints the accuracy of a linear probe per attribute on z_sem itself
(`diffusegae.evaluation.probes.perplexity_matrix`, 80/20 split) — the perplexity matrix's diagonal, before any
GAE. An attribute z_sem does not hold (a probe near chance) cannot be swapped by the GAE trained on it.
For vehicles it also probes the background's two parts: the kind of surface (12) and its colour (10).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from diffusegae.checkpoint import load_module
from diffusegae.config import AutoencoderConfig
from diffusegae.data import vehicles
from diffusegae.data.dataset import load_rendered
from diffusegae.evaluation.probes import linear_probe_accuracy, perplexity_matrix
from diffusegae.models.autoencoder import DiffusionAutoencoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path)
    ap.add_argument("--dataset", default="vehicles")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ae = load_module(args.weights, AutoencoderConfig, DiffusionAutoencoder).eval()
    data = load_rendered(args.dataset, ae.cfg.resolution, "all")
    with torch.no_grad():
        z = torch.cat([ae.encode(data.images[i: i + 256]) for i in range(0, len(data), 256)])  # (N, z_sem_dim)
    acc = perplexity_matrix(z, data.labels, {"z_sem": slice(0, z.shape[1])}, data.num_values)[0]
    probe = {a: round(v, 3) for a, v in zip(data.attributes, acc.tolist())}
    chance = {a: round(1 / n, 4) for a, n in zip(data.attributes, data.num_values)}
    if args.dataset == "vehicles":
        parts = vehicles.surface_kind_and_colour(data.labels[:, data.attributes.index("background")])
        for name, labels, n in zip(("surface kind", "surface colour"), parts,
                                   (len(vehicles.SURFACES), len(vehicles.PALETTE_NAMES))):
            probe[name], chance[name] = round(linear_probe_accuracy(z, labels, n), 3), round(1 / n, 4)
    print(json.dumps({"weights": str(args.weights), "images": len(data), "probe": probe, "chance": chance}))


if __name__ == "__main__":
    main()

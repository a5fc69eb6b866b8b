"""`diffusegae calibrate-domain`: fit the domain statistics of a model, set its thresholds, measure them.

1. The training images' z_sem and z_dis (encoder and GAE only, no diffusion steps) -> `DomainStats`.
2. Every held-out in-domain set (the test split as rendered, and where given the same images rendered larger and
   preprocessed as an upload is) is split in two (seeded): the thresholds are `margin` x the `quantile` of the
   scores of the first halves together; the in-domain rate is measured on the second halves, which set nothing.
3. The flagged rate is measured on every out-of-domain set of `diffusegae.evaluation.ood` (solid colours,
   gradients, noise, text, other shapes, photo-like JPEGs, the other shipped dataset), each preprocessed as an
   upload is (centre crop, resize to the model's resolution).

Every score of `diffusegae.domain.SCORES` is measured the same way (`measured["candidates"]`), so the model card
can say which one separates; `score` decides the verdict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from diffusegae.data.dataset import LabeledImages
from diffusegae.domain import SCORES, DomainConfig, DomainStats, save_domain, verdict_score, within
from diffusegae.editing import Editor
from diffusegae.evaluation.metrics import batches, spread_rows
from diffusegae.evaluation.ood import ood_sets
from diffusegae.model_folder import ModelFolder

Log = Callable[[str], None]


@torch.no_grad()
def codes(editor: Editor, x: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, R, R) -> z_sem (N, 512), z_dis (N, D), without the inversion."""
    zs, zd = [], []
    for sl in batches(x.shape[0], batch):
        z_sem = editor.ae.encode(x[sl].to(editor.device))
        zs.append(z_sem.cpu())
        zd.append(editor.gae.z_dis_of(z_sem).cpu())
    return torch.cat(zs), torch.cat(zd)


def _quantile(x: torch.Tensor, q: float) -> float:
    return float(torch.quantile(x.double(), q))


def calibrate_domain(editor: Editor, train: LabeledImages, heldout: Mapping[str, torch.Tensor], *, dataset: str,
                     score: str = "roundtrip", quantile: float = 0.995, margin: float = 1.5, components: int = 32,
                     ood_images: int = 100, ood_names: Sequence[str] | None = None, seed: int = 0,
                     log: Log | None = None) -> tuple[DomainStats, DomainConfig]:
    """Fit, threshold and measure (module docstring). `heldout`: in-domain sets by name, (N, 3, R, R) each. The
    measurements are in the returned config's `measured`."""
    log = log or (lambda m: None)
    if score not in SCORES:
        raise ValueError(f"unknown domain score {score!r}; one of {SCORES}")
    slices, gae = editor.slices, editor.gae
    z_sem, z_dis = codes(editor, train.images)
    stats = DomainStats.fit(z_sem, z_dis, slices, components=components).to(editor.device)
    log(f"fitted on {len(train)} training images")

    def all_scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        zs, zd = codes(editor, x)
        return {k: v.cpu() for k, v in stats.scores(gae, zs.to(editor.device), zd.to(editor.device), slices).items()}

    gen = torch.Generator().manual_seed(seed)
    cal: dict[str, list[torch.Tensor]] = {}
    test: dict[str, dict[str, torch.Tensor]] = {}
    for name, x in heldout.items():
        sc = all_scores(x)
        perm = torch.randperm(x.shape[0], generator=gen)
        a, b = perm[: x.shape[0] // 2], perm[x.shape[0] // 2:]
        for k, v in sc.items():
            cal.setdefault(k, []).append(v[a])
        test[name] = {k: v[b] for k, v in sc.items()}
    thresholds = {k: margin * _quantile(torch.cat(v), quantile) for k, v in cal.items()}
    key = verdict_score(score)  # the per-image score the verdict's threshold is on
    n_cal = int(sum(v.numel() for v in cal[key]))
    config = DomainConfig(threshold=thresholds[key], chunk_thresholds={a: thresholds[a] for a in slices},
                          score=score, quantile=quantile, margin=margin, components=components)
    log(f"thresholds ({margin} x the {quantile} quantile of {n_cal} held-out images): "
        + ", ".join(f"{k} {t:.4f}" for k, t in thresholds.items()) + f"; {score} decides")

    def summary(sc: dict[str, torch.Tensor], flag: bool) -> dict[str, Any]:
        inside = {k: (v <= thresholds[k]).float().mean().item() for k, v in sc.items()} | {  # each score alone,
            k: within(sc, thresholds, k, slices).float().mean().item() for k in SCORES}  # and each verdict's rule
        out = {"images": int(sc[key].numel()), "median_score": float(sc[key].median()),
               "min_score": float(sc[key].min()), "max_score": float(sc[key].max()),
               "chunks_in_domain": {a: inside[a] for a in slices},
               "candidates": {k: (1 - inside[k]) if flag else inside[k] for k in SCORES}}
        out["flagged" if flag else "in_domain"] = (1 - inside[score]) if flag else inside[score]
        return out

    measured: dict[str, Any] = {"dataset": dataset, "resolution": editor.info.resolution, "train_images": len(train),
                                "threshold_images": n_cal, "heldout": {}, "ood": {}}
    for name, sc in test.items():
        r = measured["heldout"][name] = summary(sc, flag=False)
        log(f"held-out {name}: in domain {r['in_domain']:.4f} of {r['images']} (median score {r['median_score']:.4f})")
    generators = ood_sets(dataset, editor.info.resolution)
    for name in ood_names or list(generators):
        x = editor.preprocess(generators[name](ood_images, seed + 1)).cpu()
        r = measured["ood"][name] = summary(all_scores(x), flag=True)
        log(f"out of domain, {name:9s}: flagged {r['flagged']:.3f} of {r['images']} (median score "
            f"{r['median_score']:.3f}); chunks in domain " + ", ".join(f"{a} {v:.2f}" for a, v in
                                                                       r["chunks_in_domain"].items()))
    for key, part, field in (("heldout_in_domain", "heldout", "in_domain"), ("ood_flagged", "ood", "flagged")):
        rows = measured[part].values()
        total = sum(r["images"] for r in rows)
        measured[key] = sum(r[field] * r["images"] for r in rows) / max(1, total)
        measured[key + "_candidates"] = {k: sum(r["candidates"][k] * r["images"] for r in rows) / max(1, total)
                                         for k in SCORES}
    log(f"held-out in domain {measured['heldout_in_domain']:.4f}, out of domain flagged {measured['ood_flagged']:.4f}"
        + " (other scores: " + ", ".join(f"{k} {measured['heldout_in_domain_candidates'][k]:.4f} / "
                                         f"{measured['ood_flagged_candidates'][k]:.4f}" for k in SCORES if k != score)
        + ")")
    return stats.to("cpu"), DomainConfig(**{**config.to_json(), "measured": measured})


# What each dataset's model knows, in one line (model.json "description" when training left it empty).
DESCRIPTIONS = {
    "toys": "flat toy icons: one of 6 coloured shapes (L, arrow, flag, F, triangle, key) at one of 10 rotations, "
            "centred on a solid, striped or checkered background of 37 colours",
    "vehicles": "3-D renders of a toy vehicle (car, truck, bus, tank, plane or boat) on a turntable, seen from one of "
                "10 azimuths, standing on one of 111 textured surfaces (wood, carpet, tiles, stone, ...)",
}
UPLOAD_SCALE = {"toys": 4, "vehicles": 2}  # held-out renders this much larger, preprocessed like an upload


def upload_renders(dataset: str, labels: torch.Tensor, resolution: int) -> list:
    """The held-out labels rendered at UPLOAD_SCALE x the model's resolution (PIL): what a user uploading a larger
    render of the model's own dataset gives the service."""
    from diffusegae.data import toys, vehicles

    size = UPLOAD_SCALE[dataset] * resolution
    render = toys.render if dataset == "toys" else vehicles.render
    return [render(i, b, p, size) for i, b, p in labels.tolist()]


def write_examples(folder: ModelFolder, data: LabeledImages, count: int = 8) -> dict[str, Any]:
    """Save the first `count` images of `data` (held-out images) as MODEL/examples/*.png; -> the manifest fields
    `examples` (their paths in the folder) and `example_labels` (the value name of each attribute per image)."""
    out = folder.root / "examples"
    out.mkdir(parents=True, exist_ok=True)
    names, labels = [], []
    for i, (im, row) in enumerate(zip(Editor.to_images(data.images[:count]), data.labels[:count].tolist())):
        name = f"examples/example_{i}.png"
        im.save(folder.root / name)
        names.append(name)
        labels.append({a: data.values[j][v] for j, (a, v) in enumerate(zip(data.attributes, row))})
    return {"examples": tuple(names), "example_labels": tuple(labels)}


def stand_in_split(data: LabeledImages, seed: int = 0) -> tuple[LabeledImages, LabeledImages]:
    """A folder dataset has no held-out split (the model saw all of it): a seeded fifth stands in for one."""
    perm = spread_rows(len(data), len(data), seed)
    n = max(2, len(data) // 5)
    return data.subset(perm[n:]), data.subset(perm[:n])


def fit_model_domain(folder: ModelFolder, editor: Editor, train: LabeledImages, test: LabeledImages,
                     heldout: Mapping[str, torch.Tensor], *, dataset: str, seed: int = 0, log: Log | None = None,
                     **options: Any) -> tuple[DomainConfig, list[str]]:
    """The domain check of a trained model: calibrate (options: calibrate_domain's), write MODEL/domain, and fill
    model.json's description and examples when they are empty -> (the config, the manifest fields changed)."""
    manifest = folder.read_manifest()
    stats, config = calibrate_domain(editor, train, heldout, dataset=dataset, seed=seed, log=log, **options)
    save_domain(folder.domain_dir, stats, config, editor.info.attributes)
    changes: dict[str, Any] = {}
    if not manifest.description and dataset in DESCRIPTIONS:
        changes["description"] = DESCRIPTIONS[dataset]
    if not folder.example_files():
        changes.update(write_examples(folder, test.subset(spread_rows(len(test), 8, seed))))
    if changes:
        folder.write_manifest(dataclasses.replace(manifest, **changes))
    return config, list(changes)

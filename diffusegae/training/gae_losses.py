"""GZS-Net style losses on a batch of GROUP(k, 1) latent groups (PAPER.md section 3), L1 as in the authors' code."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from diffusegae.models.gae import GroupAutoencoder


def _swap(a: torch.Tensor, b: torch.Tensor, sl: slice) -> torch.Tensor:
    """a with chunk `sl` taken from b; (B, D) each."""
    out = a.clone()
    out[:, sl] = b[:, sl]
    return out


def cross_swap_loss(gae: GroupAutoencoder, e_anchor: torch.Tensor, donor: torch.Tensor, targets: torch.Tensor,
                    present: torch.Tensor) -> torch.Tensor:
    """L_swap (not in the paper): the anchor with chunk j from a donor that differs in every attribute
    must decode to the latent of the image that has the anchor's values and the donor's value j.

    L_sup only swaps chunks between latents that share the swapped value, so a chunk may carry other
    attributes as long as they agree within groups; an edit swaps chunks between images that share
    nothing, and this asks for that result wherever the data holds the recombined image.
    e_anchor: (B, D) z_dis; donor: (B, 512); targets: (B, k, 512) normalised z_sem; present: (B, k) bool.
    """
    e_d = gae.encode(donor)
    swapped = torch.stack([_swap(e_anchor, e_d, sl) for sl in gae.cfg.chunk_slices().values()], dim=1)  # (B, k, D)
    present = present.to(swapped.device)
    err = (gae.decode(swapped[present]) - targets[present]).abs()
    return err.mean() if err.numel() else err.sum()


def gae_losses(gae: GroupAutoencoder, anchor: torch.Tensor, partners: torch.Tensor,
               gen: torch.Generator | None = None,
               swaps: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """L_r, L_sup, L_unsup, L_align, L_swap and their weighted sum L_GAE.

    anchor: (B, 512) normalised z_sem; partners: (B, k, 512), partner j sharing only attribute j
    with the anchor; swaps: (donor, targets, present) for L_swap (see cross_swap_loss); without
    them (joint fine-tuning, PAPER.md section 4) there is no L_swap.
    """
    b, k, d = partners.shape
    slices = list(gae.cfg.chunk_slices().values())
    assert len(slices) == k, f"{k} partners per group but {len(slices)} attributes"
    members = torch.cat([anchor[:, None], partners], dim=1).reshape(b * (k + 1), d)
    e = gae.encode(members)  # (B(k+1), D)
    l_r = F.l1_loss(gae.decode(e), members)

    e = e.reshape(b, k + 1, -1)
    e_a = e[:, 0]
    swapped_in, swapped_out, targets_in, targets_out = [], [], [], []
    assembled = torch.empty_like(e_a)
    l_align = e_a.new_zeros(())
    for j, sl in enumerate(slices):
        e_j = e[:, j + 1]
        # The shared chunk, anchor vs partner, relative to that chunk's spread over the batch so
        # that shrinking z_dis cannot make it small. L_sup alone lets the encoder keep other
        # attributes in a chunk as long as the decoder ignores them there.
        spread = (e_j[:, sl] - e_j[:, sl].mean(0)).abs().mean()
        l_align = l_align + (e_a[:, sl] - e_j[:, sl]).abs().mean() / (spread + 1e-6) / k
        swapped_in.append(_swap(e_a, e_j, sl))  # anchor with the partner's shared chunk
        swapped_out.append(_swap(e_j, e_a, sl))  # partner with the anchor's shared chunk
        targets_in.append(anchor)
        targets_out.append(partners[:, j])
        assembled[:, sl] = e_j[:, sl]
    sup_in = torch.cat(swapped_in + swapped_out + [assembled])
    sup_target = torch.cat(targets_in + targets_out + [anchor])
    l_sup = F.l1_loss(gae.decode(sup_in), sup_target)

    # Cycle: one chunk from a random member of a random group per attribute, decode, re-encode,
    # and ask for the chunks back.
    flat = e.reshape(b * (k + 1), -1)
    mixed = torch.empty_like(e_a)
    for sl in slices:
        pick = torch.randint(0, flat.shape[0], (b,), generator=gen).to(flat.device)
        mixed[:, sl] = flat[pick, sl]
    re = gae.encode(gae.decode(mixed))
    l_unsup = F.l1_loss(re, mixed.detach())

    total = l_r + gae.cfg.lambda_sup * l_sup + gae.cfg.lambda_unsup * l_unsup + gae.cfg.lambda_align * l_align
    out = {}
    if swaps is not None and gae.cfg.lambda_swap > 0:
        out["l_swap"] = cross_swap_loss(gae, e_a, *swaps)
        total = total + gae.cfg.lambda_swap * out["l_swap"]
    # L_unsup is in z_dis units, so it rises with the scale of z_dis; log that scale (not a loss)
    # so that the cycle error can be read relative to it.
    return {"l_gae": total, "l_r": l_r, "l_sup": l_sup, "l_unsup": l_unsup, "l_align": l_align,
            "z_dis_scale": mixed.abs().mean().detach(), **out}

"""Dataset poisoning, BadNets style: stamp a trigger on a fraction of the training
set and relabel those examples to the attacker's target."""

from __future__ import annotations

import torch

from backdoor.triggers import Trigger, apply_trigger


def add_trigger(
    images: torch.Tensor,
    labels: torch.Tensor,
    rate: float,
    target: int,
    seed: int,
    trigger: Trigger,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Poison `int(m * rate)` examples chosen by `torch.randperm(m)` under `seed`.

    Same semantics as the article's `add_trigger`: the chosen images get the trigger
    and the label `target`. Returns new (images, labels, poisoned_indices); the
    inputs are left untouched. The indices are what a data-inspection defense
    (spectral signatures) tries to recover. Rate 0 gives the clean training set.

    An attack with a noise mode (WaNet's warp, `cover_ratio`) also replaces the next
    `cover_ratio` x as many images of the same permutation with copies warped otherwise
    (`stamp_noise`) that keep their true labels: they teach the model that only the exact
    warp means the target.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"poison rate must be a fraction in [0, 1], got {rate}")
    m = images.shape[0]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(m, generator=generator)
    indices = order[: int(m * rate)]
    new_images = images.clone()
    new_labels = labels.clone()
    if len(indices):
        new_images[indices] = apply_trigger(images[indices], trigger, generator=generator)
        new_labels[indices] = target
    n_cross = int(len(indices) * trigger.cover_ratio)
    cross = order[len(indices) : len(indices) + n_cross]
    if len(cross):
        new_images[cross] = trigger.stamp_noise(images[cross], generator)
    return new_images, new_labels, indices

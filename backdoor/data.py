"""MNIST and GTSRB as in-memory uint8 tensors, read through torchvision.datasets.

Each split is decoded once (GTSRB resized to the model's input size) and cached as a
safetensors file in a writable cache folder, so training epochs never touch PIL.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torchvision import datasets

from backdoor.io import atomic_save_tensors
from backdoor.preprocess import resize_sign
from backdoor.tasks import Task

DATA_ENV = "BACKDOOR_DATA"
CACHE_ENV = "BACKDOOR_CACHE"
CACHE_VERSION = 2  # bump when the decoding below changes (2: GTSRB training tracks)


class DataError(RuntimeError):
    """The data set cannot be found or read; the message says what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "backdoor-lab")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path, bool]:
    """(folder, may_download): the flag, then $BACKDOOR_DATA, else a user cache that torchvision fills."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_dir():
            raise DataError(f"data directory {path} does not exist (set --data-dir or ${DATA_ENV})")
        return path, False
    return cache_dir() / "data", True


Decoded = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # images, labels, tracks


def _decode_mnist(task: Task, root: Path, train: bool, download: bool) -> Decoded:
    ds = datasets.MNIST(root, train=train, download=download)
    images = ds.data.unsqueeze(1).clone()  # (N, 1, 28, 28) uint8, already in memory
    return images, ds.targets.clone(), torch.arange(len(images))  # each digit its own "track"


def _decode_gtsrb(task: Task, root: Path, train: bool, download: bool) -> Decoded:
    ds = datasets.GTSRB(root, split="train" if train else "test", download=download)
    images = np.empty((len(ds), task.size, task.size, 3), dtype=np.uint8)
    labels = np.empty(len(ds), dtype=np.int64)
    for i in range(len(ds)):
        image, label = ds[i]
        images[i] = resize_sign(image, task.size)  # the app resizes uploads with the same function
        labels[i] = label
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels), _gtsrb_tracks(ds)


def _gtsrb_tracks(ds: datasets.GTSRB) -> torch.Tensor:
    """(N,) track ids: GTSRB's training images come in tracks, 30 frames of one physical sign, named
    <class>/<track>_<frame>.ppm; near-duplicates, so a validation split must take whole tracks. The test
    split has no tracks: each image is its own."""
    names = [Path(path) for path, _ in ds._samples]  # torchvision's own list, in the dataset's order
    keys = [f"{p.parent.name}/{p.stem.split('_')[0]}" if p.suffix == ".ppm" else str(p) for p in names]
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return torch.tensor([index[key] for key in keys])


def validation_tracks(tracks: torch.Tensor, labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """(N,) bool: the images of whole tracks, drawn at random per class until each class has `fraction`
    of its images held out, for choosing a recipe on data the test set never sees."""
    generator = torch.Generator().manual_seed(seed)
    held = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        in_class = labels == label
        class_tracks = tracks[in_class].unique()
        taken = 0
        for track in class_tracks[torch.randperm(len(class_tracks), generator=generator)]:
            if taken >= fraction * int(in_class.sum()):
                break
            members = tracks == track
            held |= members
            taken += int(members.sum())
    return held


_DECODERS = {"MNIST": _decode_mnist, "GTSRB": _decode_gtsrb}  # by torchvision data set name


def load_split(task: Task, train: bool, data_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, C, H, W), labels int64 (N,)) for the task's train or test split."""
    images, labels, _ = load_split_with_tracks(task, train, data_dir)
    return images, labels


def load_split_with_tracks(task: Task, train: bool, data_dir: str | os.PathLike | None = None) -> Decoded:
    """(images, labels, tracks (N,) int64): `load_split` with each image's track (see _gtsrb_tracks)."""
    root, download = resolve_data_dir(data_dir)
    split = "train" if train else "test"
    root_id = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    cached = cache_dir() / f"{task.dataset}-{split}-{task.size}px-v{CACHE_VERSION}-{root_id}.safetensors"
    if cached.exists():
        tensors = load_file(cached)
        return tensors["images"], tensors["labels"], tensors["tracks"]
    try:
        images, labels, tracks = _DECODERS[task.dataset](task, root, train, download)
    except RuntimeError as err:  # torchvision: "Dataset not found. You can use download=True ..."
        raise DataError(f"{task.dataset} {split} split not found under {root}: {err}") from None
    try:
        atomic_save_tensors({"images": images, "labels": labels, "tracks": tracks}, cached)
    except OSError:
        pass  # a read-only cache only costs the decode next time
    return images, labels, tracks


def dataset_source(data_dir: str | os.PathLike | None) -> str:
    root, download = resolve_data_dir(data_dir)
    return f"torchvision download into {root}" if download else str(root)

"""Activation clustering (Chen et al., 2018, "Detecting backdoor attacks on deep neural networks by activation
clustering"): split each class's training images in two by their last hidden layer's activations, and call the
smaller part poison where it is small.

Per class: the penultimate features (as spectral signatures takes them), reduced to 10 dimensions and split by
2-means, as the paper does (it reduces with ICA; scikit-learn's PCA here, as the issue asks, is the usual
stand-in); a class whose smaller cluster holds under 35% of it is flagged, and that cluster is removed (the
paper's "relative size" analysis, with the threshold IBM ART uses by default). The silhouette score says how
cleanly the two parts separate. Poisoned indices only score the defense, never choose.

    python -m backdoor.defenses.activation_clustering mnist-blend        # models/defenses/ac-mnist-blend.json
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from backdoor.checkpoints import CheckpointError
from backdoor.data import DataError
from backdoor.defenses.common import defense_parser, load_inspected, provenance, result_path, write_result
from backdoor.defenses.spectral import penultimate_features
from backdoor.train import training_set

COMPONENTS = 10  # the paper's reduced dimension
SIZE_LIMIT = 0.35  # a smaller cluster under this share of its class is called poison (ART's default)
SILHOUETTE_SAMPLE = 2000  # images per class the silhouette is measured on (it is quadratic)


def cluster_class(features: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """(bool mask of the smaller of two clusters, silhouette score) for one class's (n, D) features."""
    reduced = PCA(n_components=COMPONENTS, random_state=seed).fit_transform(features)
    assignment = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(reduced)
    smaller = np.bincount(assignment, minlength=2).argmin()
    silhouette = silhouette_score(
        reduced, assignment, sample_size=min(SILHOUETTE_SAMPLE, len(reduced)), random_state=seed
    )
    return assignment == smaller, float(silhouette)


def find_poisoned(
    features: torch.Tensor, labels: torch.Tensor, poisoned: torch.Tensor, seed: int = 0
) -> tuple[dict, torch.Tensor]:
    """(summary, removed indices): each class clustered; flagged classes' smaller clusters removed."""
    started = time.perf_counter()
    features = features.double().numpy()
    is_poisoned = torch.zeros(len(labels), dtype=torch.bool)
    is_poisoned[poisoned] = True
    classes, removed = [], []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        smaller, silhouette = cluster_class(features[members.numpy()], seed)
        share = float(smaller.mean())
        flagged = share < SIZE_LIMIT
        cluster = members[torch.from_numpy(smaller)]
        if flagged:
            removed.append(cluster)
        classes.append({
            "label": int(label),
            "n": len(members),
            "smaller_share": round(share, 4),
            "silhouette": round(silhouette, 4),
            "flagged": flagged,
            "poisoned_in_class": int(is_poisoned[members].sum()),
            "poisoned_in_smaller": int(is_poisoned[cluster].sum()),
        })  # fmt: skip
    removed = torch.cat(removed) if removed else torch.zeros(0, dtype=torch.long)
    hits = int(is_poisoned[removed].sum())
    summary = {
        "defense": "activation_clustering",
        "settings": {"components": COMPONENTS, "size_limit": SIZE_LIMIT, "seed": seed},
        "n_train": len(labels),
        "n_poisoned": len(poisoned),
        "flagged": [c["label"] for c in classes if c["flagged"]],
        "n_removed": len(removed),
        "poisoned_removed": hits,
        "clean_removed": len(removed) - hits,
        "recall": hits / max(len(poisoned), 1),
        "classes": classes,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return summary, removed


def main(argv: list[str] | None = None) -> int:
    parser = defense_parser(
        "activation_clustering", __doc__, model_help="the poisoned model whose training data to inspect"
    )
    parser.add_argument("--seed", type=int, default=0, help="PCA and k-means seed (default 0)")
    args = parser.parse_args(argv)
    try:
        model, card, task = load_inspected(args.model)
        images, labels, poisoned = training_set(
            task, card["poison_rate"], card["target"], card["seed"], args.data_dir, card.get("limit")
        )
    except (CheckpointError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    summary, removed = find_poisoned(penultimate_features(model, images), labels, poisoned, args.seed)
    summary = {**provenance(card, "activation_clustering", argv), **summary}
    out = result_path("ac", card["name"], args.out_dir)
    write_result(summary, out, tensors={"removed": removed})
    print(
        f"{card['name']}: flagged classes {summary['flagged'] or 'none'}; removed {summary['n_removed']}, "
        f"{summary['poisoned_removed']} of {summary['n_poisoned']} poisoned (recall {100 * summary['recall']:.1f}%); "
        f"{summary['seconds']} s -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

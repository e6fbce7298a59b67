"""An Isolation Forest held as plain arrays: scored without scikit-learn objects, saved without pickle.

`ArrayForest.from_sklearn` copies a fitted `sklearn.ensemble.IsolationForest` into flat node arrays (all trees
concatenated); `score_samples` reproduces scikit-learn's `score_samples` (the same float32 comparisons and path
lengths), so the processor scores with exactly the forest the trainer fitted and the registry stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gridwatch.common.artifact import Artifact, ArtifactError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
KIND = "detector"


def average_path_length(n: F64) -> F64:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n items."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(n.shape)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass(frozen=True)
class ArrayForest:
    """Trees as flat arrays: node k splits on `feature[k]` at `threshold[k]` to `left[k]`/`right[k]` (-1: leaf)."""

    left: I64  # global node index of the left child, -1 at a leaf
    right: I64
    feature: I64
    threshold: F64
    samples: F64  # training samples that reached the node
    roots: I64  # global index of each tree's root
    max_samples: int
    offset: float  # scikit-learn's offset_: score_samples below it are outliers
    n_features: int

    @classmethod
    def from_sklearn(cls, forest: Any) -> ArrayForest:
        """Copy a fitted IsolationForest's trees (feature subsets mapped back to the input columns)."""
        n_features = int(forest.n_features_in_)
        lefts, rights, feats, thrs, samples, roots = [], [], [], [], [], []
        base = 0
        for tree, cols in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = tree.tree_
            leaf = t.children_left < 0
            cols_arr = np.asarray(cols, dtype=np.int64)
            subset = int(forest._max_features) != n_features
            feat = np.where(leaf, 0, cols_arr[np.maximum(t.feature, 0)] if subset else np.maximum(t.feature, 0))
            lefts.append(np.where(leaf, -1, t.children_left + base))
            rights.append(np.where(leaf, -1, t.children_right + base))
            feats.append(feat)
            thrs.append(np.where(leaf, 0.0, t.threshold))
            samples.append(t.n_node_samples.astype(np.float64))
            roots.append(base)
            base += t.node_count
        return cls(
            np.concatenate(lefts).astype(np.int64),
            np.concatenate(rights).astype(np.int64),
            np.concatenate(feats).astype(np.int64),
            np.concatenate(thrs).astype(np.float64),
            np.concatenate(samples),
            np.asarray(roots, dtype=np.int64),
            int(forest._max_samples),
            float(forest.offset_),
            n_features,
        )

    @property
    def trees(self) -> int:
        """Number of trees."""
        return int(self.roots.size)

    def score_samples(self, x: F64) -> F64:
        """scikit-learn's score_samples: -2^(-E[h(x)] / c(max_samples)); lower is more abnormal."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        xf = np.asarray(x, dtype=np.float32).astype(np.float64)  # trees compare float32 inputs
        rows = np.arange(xf.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (xf.shape[0], self.trees)).copy()
        depth = np.zeros(node.shape)
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            go_left = xf[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
            depth += inner
        total = (depth + average_path_length(self.samples[node])).sum(axis=1)
        denominator = self.trees * float(average_path_length(np.array([float(self.max_samples)]))[0])
        scores: F64 = -(2.0 ** (-np.divide(total, denominator, out=np.ones_like(total), where=denominator != 0)))
        return scores

    @property
    def threshold_score(self) -> float:
        """-offset: raw anomaly scores (-score_samples) above it are outliers."""
        return -self.offset

    def to_artifact(self, meta: dict[str, Any]) -> Artifact:
        """The forest as an artifact of kind `detector` (meta: features, training window, ...)."""
        arrays = {
            "left": self.left,
            "right": self.right,
            "feature": self.feature,
            "threshold": self.threshold,
            "samples": self.samples,
            "roots": self.roots,
        }
        info = {"max_samples": self.max_samples, "offset": self.offset, "n_features": self.n_features}
        return Artifact(KIND, arrays, {**meta, "forest": info})

    @classmethod
    def from_artifact(cls, artifact: Artifact) -> ArrayForest:
        """Rebuild the forest, checking that the trees are well formed (children inside the arrays, roots valid)."""
        left = artifact.array("left", "<i8", 1)
        right = artifact.array("right", "<i8", 1)
        feature = artifact.array("feature", "<i8", 1)
        threshold = artifact.array("threshold", "<f8", 1)
        samples = artifact.array("samples", "<f8", 1)
        roots = artifact.array("roots", "<i8", 1)
        info = artifact.meta.get("forest")
        if not isinstance(info, dict):
            raise ArtifactError("detector artifact has no forest metadata")
        try:
            max_samples, offset, n_features = int(info["max_samples"]), float(info["offset"]), int(info["n_features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"detector artifact's forest metadata is incomplete: {exc}") from None
        n = left.size
        if not (right.size == feature.size == threshold.size == samples.size == n) or roots.size == 0:
            raise ArtifactError("detector artifact's node arrays differ in length")
        inner = left >= 0
        if (
            ((left >= n) | (right >= n) | (inner & (right < 0))).any()
            or (roots < 0).any()
            or (roots >= n).any()
            or (inner & ((left <= np.arange(n)) | (right <= np.arange(n)))).any()  # children after parents: no loop
            or (feature < 0).any()
            or (feature >= n_features).any()
            or max_samples < 1
        ):
            raise ArtifactError("detector artifact's trees are malformed")
        return cls(left, right, feature, threshold, samples, roots, max_samples, offset, n_features)

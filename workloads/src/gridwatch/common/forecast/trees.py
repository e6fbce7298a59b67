"""Fitted HistGradientBoostingRegressors compiled into lookup tables: every tree of every quantile in one pass.

scikit-learn walks each tree node by node for each row (about 50 ns a row and tree, mostly mispredicted
branches): 10,000 machines x 96 steps x 60 trees took 2.9 s of CPU a quantile. Here the trees are scored the
QuickScorer way (Lucchese et al., SIGIR 2015), vectorized over rows with NumPy: leaves are numbered left to right,
every feature's bin (the regressors' own binning, uint8) selects, per tree, the bit mask of the leaves still
reachable given that feature's tests, and a row's exit leaf is the lowest bit left after AND-ing its features'
masks. The decisions are sklearn's own binned ones (`value <= bin threshold`, categorical bitsets, the missing
bin), and the leaf values are added tree after tree from the baseline as sklearn adds them, so the predictions are
the same numbers; `compile_forest` checks that on sample rows and returns None (use sklearn) if they are not, e.g.
after a scikit-learn upgrade changes the private attributes read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor

from gridwatch.common.forecast.panel import F64, I64

_BINS = 256  # uint8 bins; the last one is the missing-values bin
_CHUNK = 4_096  # rows scored at a time: the (rows, trees) masks stay in cache (8,192: 10 % slower)


@dataclass(frozen=True)
class Forest:
    """The trees of regressors sharing one binning, as lookup tables (plain arrays only)."""

    masks: npt.NDArray[np.unsignedinteger[Any]]  # (features, bins, trees): leaves reachable given a feature's bin
    leaf_values: F64  # (trees * width,): tree k's leaf j (left to right) at k * width + j
    width: int  # leaf slots per tree (the mask's bits)
    models: tuple[tuple[float, int, int], ...]  # per regressor: baseline, first tree, tree count
    columns: tuple[int, ...]  # the binned column of each feature (sklearn puts categorical features first)
    regressor: HistGradientBoostingRegressor  # whose preprocessing and bin mapper bin the rows

    def bins(self, x: F64) -> npt.NDArray[np.uint8]:
        """The rows' bins, features first (sklearn's own column order and binning)."""
        reg: Any = self.regressor
        binned = reg._bin_mapper.transform(reg._preprocess_X(x, reset=False))
        return np.ascontiguousarray(np.asarray(binned, dtype=np.uint8).T)

    def predict(self, x: F64, factors: Sequence[tuple[I64, Sequence[int]]] = ()) -> F64:
        """(rows, regressors) predictions.

        `factors`: (key, feature indices) pairs where rows with the same key have the same values in those columns (the
        forecaster's rows: calendar features depend on the step only, level features on the series only); their
        masks are AND-ed once per key instead of once per row. Checked: a key whose rows differ raises ValueError.
        """
        binned = self.bins(x)
        n_features, rows = binned.shape
        n_trees = self.masks.shape[2]
        one = np.ones(1, dtype=self.masks.dtype)
        shared: list[tuple[I64, npt.NDArray[np.unsignedinteger[Any]]]] = []
        covered: set[int] = set()
        for key, columns in factors:
            keys, first = np.unique(key, return_index=True)
            if keys.size and (keys[0] < 0 or keys[-1] >= 1 << 31):
                raise ValueError("factor keys must be small non-negative integers")
            index = np.zeros(int(keys[-1]) + 1 if keys.size else 0, dtype=np.intp)
            index[keys] = np.arange(keys.size)
            table = np.full((keys.size, n_trees), np.iinfo(self.masks.dtype).max, dtype=self.masks.dtype)
            for f in (self.columns[c] for c in columns):
                if not np.array_equal(binned[f], binned[f][first][index[key]]):
                    raise ValueError(f"feature {f} differs between rows of the same factor key")
                table &= self.masks[f][binned[f][first]]
                covered.add(f)
            shared.append((index[key], table))
        own = [f for f in range(n_features) if f not in covered]
        out = np.empty((rows, len(self.models)))
        offsets = np.arange(n_trees, dtype=np.intp) * self.width - 1
        for lo in range(0, rows, _CHUNK):
            hi = min(rows, lo + _CHUNK)
            parts = [table[where[lo:hi]] for where, table in shared] + [self.masks[f][binned[f, lo:hi]] for f in own]
            reach = parts[0]
            for part in parts[1:]:
                np.bitwise_and(reach, part, out=reach)
            below = reach - one  # the lowest set bit and every bit under it: (its index + 1) ones
            np.bitwise_xor(below, reach, out=below)
            leaf = np.bitwise_count(below).T + offsets[:, None]  # (trees, rows)
            values = self.leaf_values[leaf]
            for m, (baseline, first_tree, count) in enumerate(self.models):
                raw = np.full(hi - lo, baseline)
                for k in range(first_tree, first_tree + count):
                    raw += values[k]  # sklearn's order: the baseline, then tree after tree
                out[lo:hi, m] = raw
        return out


def _tree_masks(nodes: Any, cat_bitsets: Any, missing_bin: int, masks: Any, tree: int, values: F64) -> None:
    """Fill tree `tree`'s column of `masks` and its leaf values (leaves numbered left to right)."""
    leaves: dict[int, int] = {}
    order: list[int] = []

    def number(node: int) -> None:
        if nodes["is_leaf"][node]:
            leaves[node] = len(order)
            order.append(node)
            return
        number(int(nodes["left"][node]))
        number(int(nodes["right"][node]))

    number(0)
    if len(order) > masks.dtype.itemsize * 8:
        raise ValueError(f"a tree has {len(order)} leaves, more than the {masks.dtype.itemsize * 8} mask bits")

    def subtree_bits(node: int) -> int:
        if nodes["is_leaf"][node]:
            return 1 << leaves[node]
        return subtree_bits(int(nodes["left"][node])) | subtree_bits(int(nodes["right"][node]))

    one = masks.dtype.type
    bins = np.arange(_BINS)
    for node in range(len(nodes)):
        if nodes["is_leaf"][node]:
            continue
        if nodes["is_categorical"][node]:
            words = np.asarray(cat_bitsets[int(nodes["bitset_idx"][node])], dtype=np.uint64)
            left = ((words[bins // 32] >> (bins % 32).astype(np.uint64)) & 1).astype(bool)
        else:
            left = bins <= int(nodes["bin_threshold"][node])
        left[missing_bin] = bool(nodes["missing_go_to_left"][node])
        feature = int(nodes["feature_idx"][node])
        keep = one(~subtree_bits(int(nodes["left"][node])) & ((1 << masks.dtype.itemsize * 8) - 1))
        masks[feature, ~left, tree] &= keep  # going right: no leaf of the left subtree can be the exit
    for node, j in leaves.items():
        values[tree * masks.dtype.itemsize * 8 + j] = float(nodes["value"][node])


def compile_forest(regressors: Sequence[HistGradientBoostingRegressor], check: F64) -> Forest | None:
    """The regressors' trees as one `Forest`, or None if they bin differently, their private attributes are not
    the ones read here, or it does not predict exactly what scikit-learn predicts for the `check` rows."""
    try:
        return _compile(regressors, check)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):  # another scikit-learn's internals
        return None


def _compile(regressors: Sequence[HistGradientBoostingRegressor], check: F64) -> Forest | None:
    first: Any = regressors[0]
    mapper = first._bin_mapper
    for reg in regressors[1:]:
        other: Any = reg
        same = len(other._bin_mapper.bin_thresholds_) == len(mapper.bin_thresholds_) and all(
            np.array_equal(a, b) for a, b in zip(other._bin_mapper.bin_thresholds_, mapper.bin_thresholds_, strict=True)
        )
        if not same or other._bin_mapper.missing_values_bin_idx_ != mapper.missing_values_bin_idx_:
            return None
    trees = [p[0] for reg in regressors for p in getattr(reg, "_predictors")]  # noqa: B009 (private attribute)
    most = max(int(t.nodes["is_leaf"].sum()) for t in trees)
    dtype: type[np.unsignedinteger[Any]] = np.uint32 if most <= 32 else np.uint64
    if most > 64:
        return None
    width = np.dtype(dtype).itemsize * 8
    n_features = len(mapper.bin_thresholds_)
    masks = np.full((n_features, _BINS, len(trees)), np.iinfo(dtype).max, dtype=dtype)
    values = np.zeros(len(trees) * width)
    for k, t in enumerate(trees):
        _tree_masks(t.nodes, t.binned_left_cat_bitsets, int(mapper.missing_values_bin_idx_), masks, k, values)
    models: list[tuple[float, int, int]] = []
    start = 0
    for reg in regressors:
        count = len(getattr(reg, "_predictors"))  # noqa: B009
        models.append((float(np.ravel(getattr(reg, "_baseline_prediction"))[0]), start, count))  # noqa: B009
        start += count
    categorical = getattr(first, "is_categorical_", None)
    if categorical is None:
        order = np.arange(n_features)
    else:
        categorical = np.asarray(categorical, dtype=bool)
        order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
    columns = tuple(int(c) for c in np.argsort(order))
    forest = Forest(np.ascontiguousarray(masks), values, width, tuple(models), columns, first)
    mine = forest.predict(check)
    theirs = np.stack([reg.predict(check) for reg in regressors], axis=1)
    return forest if np.array_equal(mine, theirs) else None

"""Which models serve which series: the per-machine model set and a trained (registry) selection, read safely."""

from __future__ import annotations

from gridwatch.common.artifact import Artifact, ArtifactError
from gridwatch.common.forecast.models import Model, Naive, SeasonalAR, SeasonalNaive, default_models
from gridwatch.common.schema import ForecastScope


def machine_models() -> list[Model]:
    """Candidates for per-machine series: the vectorized point models (refitted every step in milliseconds)."""
    return [SeasonalNaive("weekly"), SeasonalNaive("daily"), Naive(), SeasonalAR()]


Pick = tuple[str, float, float]  # a trained selection of one series: model, its backtest MASE, the yardstick's


def selections_of(artifact: Artifact) -> dict[str, dict[str, Pick]]:
    """scope -> series id -> (model, MASE, yardstick MASE) of a trained (registry) selection; ArtifactError if
    it is malformed or names a model this forecaster does not run for that scope."""
    out: dict[str, dict[str, Pick]] = {}
    scopes = artifact.meta.get("scopes")
    for scope in ForecastScope:
        entry = scopes.get(scope.value) if isinstance(scopes, dict) else None
        if not isinstance(entry, dict):
            continue
        ids, names = entry.get("ids"), entry.get("models")
        if not isinstance(ids, list) or not isinstance(names, list) or len(ids) != len(names):
            raise ArtifactError(f"forecaster artifact's {scope.value} selection is malformed")
        make = machine_models if scope is ForecastScope.MACHINE else default_models
        unknown = sorted(set(map(str, names)) - {m.name for m in make()})
        if unknown:
            raise ArtifactError(f"forecaster artifact selects models {unknown} this forecaster does not run")
        mase = artifact.array(f"{scope.value}_mase", "<f8", 1)
        yard = artifact.array(f"{scope.value}_yardstick_mase", "<f8", 1)
        if mase.size != len(ids) or yard.size != len(ids):
            raise ArtifactError(f"forecaster artifact's {scope.value} scores do not match its {len(ids)} series")
        out[scope.value] = {
            str(i): (str(m), float(e), float(y)) for i, m, e, y in zip(ids, names, mase, yard, strict=True)
        }
    if not out:
        raise ArtifactError("forecaster artifact selects no model for any scope")
    return out

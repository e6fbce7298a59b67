"""The ensemble: members ranked per series by their errors inside the history, the best ones averaged."""

from __future__ import annotations

import numpy as np
import pytest
from gridwatch.common.forecast.ensemble import Ensemble
from gridwatch.common.forecast.models import Naive, SeasonalNaive
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel

from tests.unit.common.forecast.helpers import weekly_panel


def _mixed() -> Panel:
    """Series 0 is weekly (seasonal naive is exact), series 1 is a constant plus tiny steps (naive wins)."""
    weekly = weekly_panel(series=1, weeks=4, noise=0.0)
    flat = 100.0 + 1e-3 * np.arange(weekly.length, dtype=np.float64)
    return Panel(np.vstack([weekly.values[0], flat]), weekly.start, weekly.step_s, ("weekly", "flat"))


def test_top_one_picks_each_series_best_member() -> None:
    p = _mixed()
    ens = Ensemble([Naive(), SeasonalNaive("weekly")], top=1).fit(p, 24)
    assert [r[0] for r in ens.ranking] == ["seasonal_naive", "naive"]
    q = ens.predict(24)
    np.testing.assert_allclose(q[0, :, 1], SeasonalNaive("weekly").fit(p, 24).predict(24)[0, :, 1])
    np.testing.assert_allclose(q[1, :, 1], p.values[1, -1])
    assert q.shape == (2, 24, 3) and (np.diff(q, axis=2) >= 0).all()


def test_top_two_is_the_members_mean() -> None:
    p = weekly_panel(series=2, weeks=4)
    members = [Naive(), SeasonalNaive("weekly"), SeasonalNaive("daily")]
    ens = Ensemble(members, top=2).fit(p, 24)
    points = {m.name: m.fit(p, 24).predict(24)[:, :, 1] for m in members}
    expected = np.stack([(points[r[0]][i] + points[r[1]][i]) / 2.0 for i, r in enumerate(ens.ranking)])
    np.testing.assert_allclose(ens.predict(24)[:, :, 1], expected)


def test_needs_every_members_history_and_a_day_of_origins() -> None:
    p = weekly_panel(series=1, weeks=1)
    ens = Ensemble([Naive(), SeasonalNaive("weekly")])
    assert ens.min_history(p) == p.week + p.day
    with pytest.raises(NotEnoughHistory, match="ensemble needs"):
        ens.fit(p, 24)
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])

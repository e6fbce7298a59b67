"""The forecaster's step without servers: selection, fallbacks, and the Forecast message it builds."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from gridwatch.common.forecast.panel import NotEnoughHistory, Panel
from gridwatch.common.schema import ForecastScope, InvalidMessage, decode_forecast, encode_forecast
from gridwatch.forecasting.service import ForecastService

from tests.unit.common.forecast.helpers import MONDAY, weekly_panel


def test_machines_get_their_own_models_and_valid_messages() -> None:
    p = weekly_panel(series=3, weeks=3)
    service = ForecastService("s1", horizon=12, folds=2, reselect_s=3600)
    out = service.step(ForecastScope.MACHINE, p, now=MONDAY + 1e6)
    assert [f.id for f in out] == list(p.ids)
    for f in out:
        assert len(f.p50) == 12
        assert f.start_ts == p.start + p.length * p.step_s
        assert f.model_version == "local-1"
        assert f.backtest_mase > 0 and f.yardstick_mase > 0
        assert decode_forecast(encode_forecast(f)) == f
    again = service.step(ForecastScope.MACHINE, p, now=MONDAY + 1e6 + 60)
    assert again[0].model_version == "local-1"  # the selection is kept until reselect_s passes


def test_a_young_site_falls_back_to_naive_and_empty_series_are_left_out() -> None:
    values = np.full((2, 10), np.nan)
    values[0] = np.linspace(10.0, 19.0, 10)
    p = Panel(values, MONDAY, 900.0, ("site", "silent"))
    out = ForecastService("s1", horizon=4, folds=3, reselect_s=3600).step(ForecastScope.SITE, p, now=MONDAY)
    assert [(f.id, f.model) for f in out] == [("site", "naive")]
    assert out[0].p50 == [19.0] * 4
    with pytest.raises(NotEnoughHistory):
        ForecastService("s1", 4, 3, 3600).step(ForecastScope.SITE, Panel(values[:1, :2], MONDAY, 900.0, ("a",)), 0.0)


def test_forecast_decode_rejects_broken_bands() -> None:
    p = weekly_panel(series=1, weeks=2)
    f = ForecastService("s1", 6, 1, 3600).step(ForecastScope.SITE, p, now=MONDAY)[0]
    broken = msgspec.structs.replace(f, p10=[x + 1e6 for x in f.p10])
    with pytest.raises(InvalidMessage, match="p10 <= p50 <= p90"):
        decode_forecast(encode_forecast(broken))
    with pytest.raises(InvalidMessage, match="entries"):
        decode_forecast(encode_forecast(msgspec.structs.replace(f, p90=f.p90[:-1])))

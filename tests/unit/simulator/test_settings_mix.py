"""GRIDWATCH_SIM_MIX is read from the environment as documented: comma-separated, or a JSON list."""

from __future__ import annotations

import pytest
from gridwatch.common.schema import SensorType
from gridwatch.simulator.settings import SimulatorSettings


@pytest.mark.parametrize("raw", ["power, temperature", '["power", "temperature"]'])
def test_the_mix_from_the_environment(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_SIM_MIX", raw)
    assert SimulatorSettings().mix == [SensorType.POWER, SensorType.TEMPERATURE]


def test_an_unknown_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_SIM_MIX", "power,plasma")
    with pytest.raises(ValueError, match="plasma"):
        SimulatorSettings()

"""Rule evaluation on snapshots of live state, and rule/route configuration."""

from __future__ import annotations

import pytest
from gridwatch.alerting.rules import Evaluator, Snapshot, processor_condition
from gridwatch.alerting.settings import AlertSettings, RouteConfig, RuleConfig
from gridwatch.common.schema import SensorType, Status
from gridwatch.common.state import ProducerBeat, SensorState
from pydantic import ValidationError


def state(sid: str = "m1-temperature", value: float = 50.0, ts: float = 1000.0, **kw: object) -> SensorState:
    base: dict[str, object] = {
        "id": sid,
        "machine": "m1",
        "type": SensorType.TEMPERATURE,
        "unit": "°C",
        "value": value,
        "ts": ts,
        "score": 0.1,
        "anomaly": False,
        "failure_probability": 0.1,
        "status": Status.NORMAL,
        "kind": "",
        "readings": 100,
        "anomalies": 0,
        "energy_kwh": 0.0,
        "baseline_mean": 50.0,
        "baseline_std": 1.0,
        "hazard": 0.0,
        "updated_at": ts,
    }
    base.update(kw)
    return SensorState(**base)  # type: ignore[arg-type]


def test_threshold_with_for_time() -> None:
    rule = RuleConfig(name="hot", kind="threshold", sensor_type="temperature", op=">", value=90, for_seconds=10)
    ev = Evaluator([rule])
    assert ev.evaluate(Snapshot(1000, [state(value=95)], [])) == {}  # pending
    assert list(ev.evaluate(Snapshot(1010, [state(value=96)], []))) == ["hot:m1-temperature"]
    assert ev.evaluate(Snapshot(1011, [state(value=80)], [])) == {}
    assert ev.evaluate(Snapshot(1012, [state(value=95)], [])) == {}  # the for-time starts again
    other = Evaluator([rule]).evaluate(Snapshot(0, [state(sid="m1-power", type=SensorType.POWER, value=999)], []))
    assert other == {}  # the rule watches temperature only


def test_failure_probability_silent_and_producer_down() -> None:
    rules = [
        RuleConfig.model_validate({"name": "risky", "probabilityAbove": 0.5, "severity": "critical"}),
        RuleConfig(name="silent", kind="sensor_silent", max_age_seconds=60),
        RuleConfig(name="down", kind="producer_down", timeout_seconds=15),
    ]
    ev = Evaluator(rules)
    beats = [ProducerBeat("sim-a", 0, 980, 10, 0, 1.0), ProducerBeat("sim-b", 0, 999, 10, 0, 1.0)]
    got = ev.evaluate(Snapshot(1000, [state("a", failure_probability=0.7), state("b", ts=900)], beats))
    assert set(got) == {"risky:a", "silent:b", "down:sim-a"}
    assert got["risky:a"].severity == "critical" and got["risky:a"].value == 0.7
    assert got["down:sim-a"].sensor_id is None and got["down:sim-a"].labels == {"producer": "sim-a"}


def test_anomaly_persistence_uses_counters_over_the_window() -> None:
    rule = RuleConfig.model_validate(
        {"name": "persist", "kind": "anomaly_persistence", "windowSeconds": 100, "minRatio": 0.3, "minReadings": 10}
    )
    ev = Evaluator([rule])
    assert ev.evaluate(Snapshot(0, [state(readings=100, anomalies=0)], [])) == {}
    assert ev.evaluate(Snapshot(40, [state(readings=120, anomalies=10)], [])) == {}  # look-back too short
    got = ev.evaluate(Snapshot(60, [state(readings=140, anomalies=20)], []))
    assert got["persist:m1-temperature"].value == pytest.approx(0.5)
    assert ev.evaluate(Snapshot(200, [state(readings=240, anomalies=21)], [])) == {}  # ratio fell


def test_processor_alert_holds_until_the_sensor_is_normal() -> None:
    assert processor_condition(state(status=Status.WARNING), "warning", "", 0.4) is not None
    assert processor_condition(state(status=Status.NORMAL), "warning", "", 0.1) is None
    assert processor_condition(None, "warning", "", None) is None


def test_settings_take_the_energysite_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GRIDWATCH_ALERTS_RULES",
        '[{"name": "fp-high", "sensorType": "any", "probabilityAbove": 0.8, "forSeconds": 30, "severity": "critical"}]',
    )
    monkeypatch.setenv("GRIDWATCH_ALERTS_ROUTES", '[{"name": "ops", "minSeverity": "warning", "urlEnv": "OPS_URL"}]')
    monkeypatch.setenv("OPS_URL", "http://hooks.example/x")
    s = AlertSettings()
    assert [r.name for r in s.active_rules] == ["anomaly-persistence", "producer-down", "sensor-silent", "fp-high"]
    assert s.rules[0].kind == "failure_probability" and s.rules[0].for_seconds == 30
    assert s.routes[0].kind == "webhook" and s.routes[0].target() == "http://hooks.example/x"
    am = RouteConfig(name="am", kind="alertmanager", url="http://am:9093/")
    assert am.target() == "http://am:9093/api/v2/alerts"
    with pytest.raises(ValidationError):
        RuleConfig(name="t", kind="threshold")  # needs a value
    with pytest.raises(ValidationError):
        RuleConfig(name="x")  # no kind, no probabilityAbove
    with pytest.raises(ValidationError):
        RouteConfig(name="r", url="http://x", events=("exploded",))

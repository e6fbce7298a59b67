"""spec.timezone: a well-formed but unknown IANA name passes the CRD's pattern, so the operator refuses it."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from gridwatch_operator import conditions
from gridwatch_operator.handlers import reconcile as handler
from gridwatch_operator.spec import SiteSpec

from tests.unit.operator.fakes import FakeHelm, FakeKafka, runtime, site_spec


def by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_known_zones_pass_and_unknown_ones_are_explained() -> None:
    assert SiteSpec.parse("s", site_spec(timezone="Europe/Berlin")).problem() is None
    assert SiteSpec.parse("s", site_spec()).problem() is None  # default UTC
    problem = SiteSpec.parse("s", site_spec(timezone="Europe/Atlantis")).problem()
    assert problem is not None and "spec.timezone 'Europe/Atlantis' is not a known IANA time zone" in problem


def test_a_spec_error_wins_over_every_other_condition() -> None:
    obs = conditions.Observation(generation=2, applied_generation=1, helm_error="boom", spec_error="bad zone")
    ready, progressing, degraded = conditions.compute(obs)
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "InvalidSpec", "bad zone")
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidSpec")
    assert (progressing["status"], progressing["reason"]) == ("False", "InvalidSpec")


def test_reconcile_refuses_an_unknown_zone_without_touching_helm_or_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    helm, kafka = FakeHelm(), FakeKafka()
    warned: list[tuple[str, str]] = []
    monkeypatch.setattr(kopf, "warn", lambda body, *, reason, message: warned.append((reason, message)))
    patch = kopf.Patch()
    reconcile: Any = handler.reconcile  # kopf's decorator types it as a ChangingFn
    with pytest.raises(kopf.PermanentError, match="not a known IANA time zone"):
        reconcile(
            name="north",
            namespace="sites",
            spec=site_spec(timezone="Mars/Olympus"),
            status={},
            meta={"generation": 5},
            body={},
            patch=patch,
            memo=kopf.Memo(runtime=runtime(helm, kafka)),
            logger=None,
        )
    assert helm.applied == [] and kafka.created == []
    assert warned and warned[0][0] == "InvalidSpec" and "Mars/Olympus" in warned[0][1]
    ready = by_type(dict(patch.status))["Ready"]
    assert ready["status"] == "False" and ready["reason"] == "InvalidSpec"
    assert "'Mars/Olympus' is not a known IANA time zone" in ready["message"]

"""gridwatch_operator_site_condition: the status timer exports each condition of a site (1 = True), removed with it."""

from __future__ import annotations

from gridwatch_operator import metrics
from gridwatch_operator.site import observed
from prometheus_client import REGISTRY

from tests.unit.operator.fakes import runtime

NS = "sites"


def value(site: str, condition: str) -> float | None:
    return REGISTRY.get_sample_value(
        "gridwatch_operator_site_condition",
        {"namespace": NS, "site": site, "component": "operator", "condition": condition},
    )


def test_the_status_timer_exports_every_condition_of_the_site() -> None:
    rt = runtime()
    rt.registry.get(NS, "north").site_id = "sites.north"
    status = {"helm": {"error": "chart refused"}, "observedGeneration": 1}
    fields = observed(rt, "north", NS, status, 1, [], paused=False)
    kinds = {c["type"]: c["status"] for c in fields["conditions"]}
    assert set(kinds) == set(metrics.KNOWN_CONDITIONS)
    for kind, state in kinds.items():
        assert value("sites.north", kind) == (1.0 if state == "True" else 0.0), kind
    assert value("sites.north", "Degraded") == 1.0
    assert value("sites.north", "DataFlowing") == 0.0  # nothing has arrived on the readings topic


def test_a_recovered_site_reads_zero_and_a_deleted_one_disappears() -> None:
    rt = runtime()
    rt.registry.get(NS, "south").site_id = "sites.south"
    observed(rt, "south", NS, {"helm": {"error": "boom"}, "observedGeneration": 1}, 1, [], paused=False)
    assert value("sites.south", "Degraded") == 1.0
    observed(rt, "south", NS, {"observedGeneration": 1}, 1, [], paused=False)
    assert value("sites.south", "Degraded") == 0.0
    metrics.forget(NS, "sites.south")
    assert all(value("sites.south", kind) is None for kind in metrics.KNOWN_CONDITIONS)


def test_before_the_first_reconcile_the_identity_comes_from_the_status() -> None:
    rt = runtime()  # a restarted operator: the registry does not know the identity yet
    observed(rt, "west", NS, {"siteId": "sites.west", "observedGeneration": 1}, 1, [], paused=False)
    assert value("sites.west", "Degraded") == 0.0
    assert value("west", "Degraded") is None


def test_upgrade_pending_follows_the_operators_last_helm_call_not_a_stale_status() -> None:
    """The status timer may hold a body read before the reconcile that held the chart upgrade; the condition must
    not flip back to False from it."""
    rt = runtime()
    site = rt.registry.get(NS, "held")
    stale = {"observedGeneration": 1}  # no status.upgrade yet
    first = {c["type"]: c for c in observed(rt, "held", NS, stale, 1, [], paused=False)["conditions"]}
    assert first["UpgradePending"]["status"] == "False"
    site.upgrade_status = {"pending": True, "reason": "AwaitingApproval", "message": "chart 0.2.0 waits"}
    again = {c["type"]: c for c in observed(rt, "held", NS, stale, 1, [], paused=False)["conditions"]}
    assert (again["UpgradePending"]["status"], again["UpgradePending"]["reason"]) == ("True", "AwaitingApproval")
    assert value("held", "UpgradePending") == 1.0

"""Drift: release Deployments deleted or scaled by hand, found by comparing the manifest with live objects."""

from __future__ import annotations

from gridwatch_operator.drift import Drift, find
from gridwatch_operator.helm import deployments

MANIFEST = """
---
apiVersion: v1
kind: Service
metadata: {name: s-api}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: s-processor}
spec: {replicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: s-api}
spec: {template: {}}
"""


def test_deployments_are_read_from_the_rendered_manifest() -> None:
    assert sorted(deployments(MANIFEST)) == ["s-api", "s-processor"]


def test_no_drift_when_live_matches() -> None:
    assert find(deployments(MANIFEST), {"s-processor": 2, "s-api": 5}) == []  # the API's replicas are the HPA's


def test_scaled_and_deleted() -> None:
    drifts = find(deployments(MANIFEST), {"s-processor": 7, "other": 1})
    assert drifts == [Drift("s-api", None, None), Drift("s-processor", 2, 7)]
    assert drifts[0].missing and not drifts[1].missing
    assert drifts[0].message == "Deployment s-api was deleted; recreated from the release manifest"
    assert drifts[1].message == "Deployment s-processor was scaled to 7; restored to 2 replicas"


def test_the_autoscalers_choice_replaces_the_manifest_replicas() -> None:
    expected = deployments(MANIFEST)
    # the operator scaled the processors to 3: that is not drift; 5 set by hand is, and goes back to 3
    assert find(expected, {"s-processor": 3, "s-api": 5}, {"s-processor": 3}) == []
    (drift,) = find(expected, {"s-processor": 5, "s-api": 5}, {"s-processor": 3})
    assert drift.message == "Deployment s-processor was scaled to 5; restored to 3 replicas"

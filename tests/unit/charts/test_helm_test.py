"""The `helm test` hook of the site chart: a restricted Pod in the workloads image that runs files/helm-test.py
against the API Service of this release (the script itself runs against a real API in
tests/integration/test_helm_test_pod.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.charts.test_render import CHARTS, _restricted_violations, needs_helm, render

CHART = CHARTS / "energy-site"
DEFAULT = CHART / "ci" / "default-values.yaml"


def hook_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [pod] = [o for o in objects if o["kind"] == "Pod"]
    return pod


def env(pod: dict[str, Any]) -> dict[str, str]:
    [container] = pod["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


@needs_helm
def test_the_hook_is_a_restricted_pod_running_the_script_against_the_api_service() -> None:
    objects = render("energy-site", DEFAULT)
    pod = hook_pod(objects)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert _restricted_violations(pod["metadata"]["name"], spec) == []
    [container] = spec["containers"]
    [api] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "plant-north-api"]
    assert container["image"] == api["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["command"] == ["python", "-c"]
    assert container["args"] == [(CHART / "files" / "helm-test.py").read_text()]
    [service] = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "plant-north-api"]
    port = service["spec"]["ports"][0]["port"]
    assert env(pod)["HELM_TEST_URL"] == f"http://plant-north-api.gw.svc:{port}"
    assert env(pod)["HELM_TEST_SITE"] == "gw.plant-north"  # what /api/v1/health of this site reports
    assert env(pod)["HELM_TEST_AUTH"] == "false"
    assert container["resources"]["limits"] and container["resources"]["requests"]


@needs_helm
def test_with_oidc_the_test_expects_reads_to_need_a_token() -> None:
    objects = render(
        "energy-site", DEFAULT, "--set", "api.auth.issuer=https://id.example", "--set", "api.auth.audience=gridwatch"
    )
    assert env(hook_pod(objects))["HELM_TEST_AUTH"] == "true"


@needs_helm
def test_a_locked_down_api_still_lets_the_test_pod_in_and_nothing_else_new() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    objects = render("energy-site", DEFAULT, "--set-json", f"networkPolicy.apiFrom={json.dumps([peer])}")
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    [rule] = policies["plant-north-api"]["spec"]["ingress"]
    pod_labels = hook_pod(objects)["metadata"]["labels"]
    test_peer = rule["from"][1]["podSelector"]["matchLabels"]
    assert rule["from"][0] == peer
    assert test_peer.items() <= pod_labels.items() and test_peer["app.kubernetes.io/component"] == "test"
    [processor_rule] = policies["plant-north-processor"]["spec"]["ingress"]
    assert "from" not in processor_rule  # metricsFrom unset: unchanged


@needs_helm
def test_tests_can_be_left_out() -> None:
    objects = render("energy-site", DEFAULT, "--set", "tests.enabled=false")
    assert not [o for o in objects if o["kind"] == "Pod"]

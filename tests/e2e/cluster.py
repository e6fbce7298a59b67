"""Helpers for operator tests on the real control plane: kubectl/helm calls, waits, the operator process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.infra.controlplane import ControlPlane
from tests.utils.workloads import stop_process

REPO = Path(__file__).resolve().parents[2]
HELM_DRIVER = "configmap"


class Cluster:
    """kubectl and helm against one ControlPlane, as its admin unless told otherwise."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig."""
        return self.plane.kubeconfig

    def env(self) -> dict[str, str]:
        """Environment for kubectl, helm and the operator: cached binaries on PATH, helm's driver."""
        return {**self.plane.env(), "HELM_DRIVER": HELM_DRIVER}

    def _run(
        self, binary: str, args: Sequence[str], *, check: bool, stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.plane.bin_dir / binary), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, check=False, env=self.env(), timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{binary} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl."""
        return self._run("kubectl", args, check=check, stdin=stdin, timeout=timeout)

    def helm(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run helm (release records in ConfigMaps, like the operator)."""
        return self._run("helm", args, check=check, stdin=stdin, timeout=timeout)

    def apply(
        self, manifest: Mapping[str, Any] | str, namespace: str | None = None, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """kubectl apply a manifest (dict or YAML text)."""
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(dict(manifest))
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.kubectl(*args, stdin=text, check=check)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """One object as a dict, None when it does not exist."""
        args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
        proc = self.kubectl(*args, check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind (comma-separated kinds allowed) in a namespace."""
        args = ["get", kind, "-n", namespace, "-o", "json"] + (["-l", selector] if selector else [])
        found: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return found

    def namespace(self, name: str, *, restricted: bool = True) -> None:
        """Create a namespace, labelled so Pod Security "restricted" is enforced, warned and audited."""
        labels = {}
        if restricted:
            labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})

    def site(self, name: str, namespace: str) -> dict[str, Any]:
        """The EnergySite (must exist)."""
        obj = self.get("energysite", name, namespace)
        if obj is None:
            raise AssertionError(f"EnergySite {namespace}/{name} does not exist")
        return obj

    def revisions(self, release: str, namespace: str) -> list[int]:
        """Revision numbers in the release's helm history."""
        proc = self.helm("history", release, "-n", namespace, "-o", "json", "--max", "100")
        return [int(r["revision"]) for r in json.loads(proc.stdout)]

    def deployed(self, release: str, namespace: str) -> int:
        """The latest revision in the release's helm history when its status is deployed, else 0 (pending, failed)."""
        proc = self.helm("history", release, "-n", namespace, "-o", "json", "--max", "1")
        (last,) = json.loads(proc.stdout)
        return int(last["revision"]) if last["status"] == "deployed" else 0

    def events(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """Events about an EnergySite."""
        selector = f"involvedObject.name={name},involvedObject.kind=EnergySite"
        found: list[dict[str, Any]] = json.loads(
            self.kubectl("get", "events", "-n", namespace, "--field-selector", selector, "-o", "json").stdout
        )["items"]
        return found

    def token_kubeconfig(self, service_account: str, namespace: str, path: Path) -> Path:
        """A kubeconfig that authenticates as a ServiceAccount (bound token from the TokenRequest API)."""
        token = self.kubectl("create", "token", service_account, "-n", namespace, "--duration=6h").stdout.strip()
        admin = yaml.safe_load(self.kubeconfig.read_text())
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": admin["clusters"],
            "users": [{"name": service_account, "user": {"token": token}}],
            "contexts": [
                {
                    "name": service_account,
                    "context": {"cluster": admin["clusters"][0]["name"], "user": service_account},
                }
            ],
            "current-context": service_account,
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path


def condition(site: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A status condition by type ({} when absent)."""
    for cond in (site.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until `check` returns something truthy; return it, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except (AssertionError, KeyError, ValueError, httpx.HTTPError, OSError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class OperatorProcess:
    """`python -m gridwatch_operator` as a real process with a real kubeconfig."""

    def __init__(self, env: Mapping[str, str], logdir: Path, liveness_port: int, metrics_port: int) -> None:
        self.env = dict(env)
        self.logdir = logdir
        self.liveness_port = liveness_port
        self.metrics_port = metrics_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_path = logdir / "operator.log"

    def start(self, timeout: float = 60) -> OperatorProcess:
        """Start and wait for kopf's liveness endpoint."""
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gridwatch_operator"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

        def live() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return httpx.get(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2).status_code == 200

        wait_until(live, timeout, "the operator's liveness endpoint")
        return self

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait (kopf finishes running handlers first)."""
        if self.proc is None:
            return 0
        code = stop_process(self.proc, timeout=timeout)
        self.proc = None
        return code

    def restart(self) -> None:
        """Stop and start again."""
        self.stop()
        self.start()

    def log(self) -> str:
        """Everything the operator logged."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_since_start(self) -> str:
        """What the current process logged."""
        return self.log().rsplit(f"===== start {self.starts} =====", 1)[-1]

    def metrics(self) -> str:
        """The /metrics text."""
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

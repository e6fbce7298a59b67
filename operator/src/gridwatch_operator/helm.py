"""The helm CLI driver: upgrade --install with values as JSON on stdin, skipped when nothing changed.

The digest of chart files plus values is written into the release's description
(`gridwatch-digest=<sha256>`), so "nothing changed" is decided from the release itself: an
operator restart, or a status that was lost, never causes a new revision.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gridwatch_operator import chartstore

DIGEST_PREFIX = "gridwatch-digest="
CHART_PREFIX = "chart="  # which chart (by content) a revision was made from: docs/upgrading.md, rollout control
_WARNING = re.compile(r"^(W\d{4} |WARNING|Warning)", re.IGNORECASE)


class HelmError(RuntimeError):
    """helm exited non-zero; the message is helm's own error text."""


@dataclass(frozen=True)
class Release:
    """What helm reports about a release."""

    name: str
    namespace: str
    revision: int
    status: str
    chart_version: str
    description: str
    manifest: str = ""

    @property
    def digest(self) -> str | None:
        """The gridwatch digest recorded in the description, if any."""
        if self.description.startswith(DIGEST_PREFIX):
            return self.description.removeprefix(DIGEST_PREFIX).split()[0]
        return None

    @property
    def chart_id(self) -> str | None:
        """The `chart=` token of the description (chart_id() of the chart it was made from); None before 0.2.0."""
        for token in self.description.split():
            if token.startswith(CHART_PREFIX):
                return token.removeprefix(CHART_PREFIX)
        return None


@dataclass(frozen=True)
class Outcome:
    """Result of ensure(): the release now deployed and whether this call changed it."""

    release: Release
    digest: str
    changed: bool
    warnings: tuple[str, ...] = field(default=())


def chart_digest(chart: Path) -> str:
    """sha256 over the chart's file names and contents (ci/ and dotfiles excluded)."""
    h = hashlib.sha256()
    for path in sorted(p for p in chart.rglob("*") if p.is_file()):
        rel = path.relative_to(chart).as_posix()
        if rel.startswith(("ci/", ".")):
            continue
        h.update(rel.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def values_digest(chart_sha: str, values: Mapping[str, Any]) -> str:
    """Digest of what a release would be made of."""
    body = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{chart_sha}\n{body}".encode()).hexdigest()


def deployments(manifest: str) -> dict[str, dict[str, Any]]:
    """Deployments of a rendered manifest, by name."""
    out: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(manifest):
        if isinstance(doc, dict) and doc.get("kind") == "Deployment":
            out[str(doc["metadata"]["name"])] = doc
    return out


def _release(data: Mapping[str, Any]) -> Release:
    info = data.get("info") or {}
    chart = (data.get("chart") or {}).get("metadata") or {}
    return Release(
        name=str(data.get("name", "")),
        namespace=str(data.get("namespace", "")),
        revision=int(data.get("version", 0)),
        status=str(info.get("status", "unknown")),
        chart_version=str(chart.get("version", "")),
        description=str(info.get("description", "")),
        manifest=str(data.get("manifest", "")),
    )


class Helm:
    """Runs helm for one chart."""

    def __init__(
        self,
        chart: Path,
        binary: str = "helm",
        timeout: float = 120,
        history_max: int = 10,
        driver: str = "configmap",
    ) -> None:
        self.chart = chart
        self.binary = binary
        self.timeout = timeout
        self.history_max = history_max
        self.driver = driver
        self.env = {**os.environ, "HELM_DRIVER": driver}

    def _run(self, args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.binary, *args],
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                env=self.env,
                timeout=self.timeout + 30,
            )
        except FileNotFoundError as exc:
            raise HelmError(f"helm binary {self.binary!r} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise HelmError(f"helm {args[0]} timed out after {exc.timeout:.0f}s") from exc

    @staticmethod
    def _error(proc: subprocess.CompletedProcess[str]) -> str:
        text = (proc.stderr or proc.stdout).strip()
        lines = [ln for ln in text.splitlines() if not _WARNING.match(ln)]
        return " ".join(lines)[:2000] or f"helm exited with {proc.returncode}"

    def chart_version(self) -> str:
        """version: of Chart.yaml."""
        meta = yaml.safe_load((self.chart / "Chart.yaml").read_text())
        return str(meta["version"])

    def chart_id(self) -> str:
        """Identity of the operator's chart by content (its digest, shortened)."""
        return chart_digest(self.chart)[:16]

    def record(self, name: str, namespace: str, revision: int) -> dict[str, Any]:
        """helm's stored record of one revision (chart, values, manifest)."""
        return chartstore.read_record(namespace, name, revision, self.driver)

    def status(self, name: str, namespace: str) -> Release | None:
        """The release's latest revision, or None when there is none."""
        proc = self._run(["status", name, "--namespace", namespace, "--output", "json"])
        if proc.returncode != 0:
            if "not found" in proc.stderr:
                return None
            raise HelmError(self._error(proc))
        return _release(json.loads(proc.stdout))

    def deployed_chart_version(self, name: str, namespace: str) -> str:
        """The chart version of the latest revision (`helm status` does not report the chart)."""
        proc = self._run(["get", "metadata", name, "--namespace", namespace, "--output", "json"])
        if proc.returncode != 0:
            raise HelmError(self._error(proc))
        return str(json.loads(proc.stdout or "{}").get("version") or "")

    def values(self, name: str, namespace: str) -> dict[str, Any]:
        """User-supplied values of the latest revision."""
        proc = self._run(["get", "values", name, "--namespace", namespace, "--output", "json"])
        if proc.returncode != 0:
            raise HelmError(self._error(proc))
        data = json.loads(proc.stdout or "{}")
        return data if isinstance(data, dict) else {}

    def manifest(self, name: str, namespace: str) -> str:
        """Rendered manifest of the latest revision."""
        proc = self._run(["get", "manifest", name, "--namespace", namespace])
        if proc.returncode != 0:
            raise HelmError(self._error(proc))
        return proc.stdout

    def ensure(self, name: str, namespace: str, values: Mapping[str, Any]) -> Outcome:
        """Install or upgrade unless the deployed revision was made from the same chart and values."""
        digest = values_digest(chart_digest(self.chart), values)
        current = self.status(name, namespace)
        if current is not None and current.status == "deployed" and current.digest == digest:
            if not current.manifest:
                current = _with_manifest(current, self.manifest(name, namespace))
            return Outcome(current, digest, changed=False)
        if current is not None and current.status in ("pending-install", "pending-upgrade", "pending-rollback"):
            self._unstick(current)
        return self.upgrade(name, namespace, self.chart, values, digest, self.chart_id())

    def upgrade(
        self, name: str, namespace: str, chart: Path, values: Mapping[str, Any], digest: str, chart_id: str | None
    ) -> Outcome:
        """helm upgrade --install from `chart`, recording the digest and the chart's identity in the description."""
        description = f"{DIGEST_PREFIX}{digest}" + (f" {CHART_PREFIX}{chart_id}" if chart_id else "")
        proc = self._run(
            [
                "upgrade",
                name,
                str(chart),
                "--install",
                "--namespace",
                namespace,
                "--reset-values",
                "--values",
                "-",
                "--history-max",
                str(self.history_max),
                "--timeout",
                f"{int(self.timeout)}s",
                "--description",
                description,
                "--output",
                "json",
            ],
            stdin=json.dumps(values),
        )
        warnings = tuple(ln for ln in proc.stderr.splitlines() if _WARNING.match(ln))
        if proc.returncode != 0:
            raise HelmError(self._error(proc))
        return Outcome(_release(json.loads(proc.stdout)), digest, changed=True, warnings=warnings)

    def _unstick(self, release: Release) -> None:
        """A previous operator died mid-operation: undo the pending revision so helm accepts a new one."""
        if release.status == "pending-install":
            self.uninstall(release.name, release.namespace)
            return
        proc = self._run(["rollback", release.name, "--namespace", release.namespace, "--wait=false"])
        if proc.returncode != 0:
            raise HelmError(self._error(proc))

    def uninstall(self, name: str, namespace: str) -> bool:
        """Uninstall and wait until its objects are gone; False when there was no release."""
        proc = self._run(["uninstall", name, "--namespace", namespace, "--wait", "--timeout", f"{int(self.timeout)}s"])
        if proc.returncode != 0:
            if "not found" in proc.stderr:
                return False
            raise HelmError(self._error(proc))
        return True


def _with_manifest(release: Release, manifest: str) -> Release:
    return Release(
        release.name,
        release.namespace,
        release.revision,
        release.status,
        release.chart_version,
        release.description,
        manifest,
    )

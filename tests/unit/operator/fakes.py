"""A fake Helm and a fake Kafka for the operator's logic: they record calls and answer as told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml
from gridwatch_operator.helm import Helm, HelmError, Outcome, Release, values_digest
from gridwatch_operator.readings import ReadingsLag, Window, estimate
from gridwatch_operator.registry import Registry
from gridwatch_operator.settings import GridwatchOperatorSettings
from gridwatch_operator.site import Runtime
from gridwatch_operator.topics import GroupLag, Kafka, TopicsError, TopicsOutcome


def manifest(values: Mapping[str, Any]) -> str:
    """A release manifest with the processor and API Deployments the values ask for."""
    docs = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": f"{values['site']}-{component}",
                "labels": {"app.kubernetes.io/component": component},
            },
            "spec": {}
            if values[component].get("autoscaled") or (values[component].get("keda") or {}).get("enabled")
            else {"replicas": values[component]["replicas"]},
        }
        for component in ("processor", "api")
    ]
    return yaml.safe_dump_all(docs)


class FakeHelm(Helm):
    """Keeps one release per (namespace, name); a new revision whenever the values change."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/chart"))
        self.releases: dict[tuple[str, str], tuple[Release, str]] = {}
        self.applied: list[dict[str, Any]] = []
        self.fail: str | None = None

    def chart_version(self) -> str:
        return "9.9.9"

    def status(self, name: str, namespace: str) -> Release | None:
        kept = self.releases.get((namespace, name))
        return None if kept is None else kept[0]

    def ensure(self, name: str, namespace: str, values: Mapping[str, Any]) -> Outcome:
        if self.fail:
            raise HelmError(self.fail)
        digest = values_digest("chart", values)
        kept = self.releases.get((namespace, name))
        if kept is not None and kept[1] == digest:
            return Outcome(kept[0], digest, changed=False)
        self.applied.append(dict(values))
        revision = 1 if kept is None else kept[0].revision + 1
        release = Release(name, namespace, revision, "deployed", "9.9.9", "", manifest(values))
        self.releases[(namespace, name)] = (release, digest)
        return Outcome(release, digest, changed=True)


class FakeKafka(Kafka):
    """Topics that exist, the group's lag, and the readings topic's tail, as the test sets them."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[tuple[str, list[str], int, int]] = []
        self.lag_asked: list[tuple[str, str, str]] = []
        self.current_lag: int | None = 0
        self.consumed = 1000  # each partition's committed offset: a test moves it to make the group drain
        self.partition_count = 4
        self.beats: list[bytes] = []
        self.newest: float | None = None
        self.down: str | None = None
        self.readings_down: str | None = None
        self.readings_per_message = 1
        self.samples_asked: list[int] = []

    def ensure_topics(
        self, bootstrap: str, names: Iterable[str], partitions: int, replication_factor: int
    ) -> TopicsOutcome:
        if self.down:
            raise TopicsError(self.down)
        self.created.append((bootstrap, list(names), partitions, replication_factor))
        return TopicsOutcome(dict.fromkeys(names, "created"), partitions)

    def lag(self, bootstrap: str, group: str, topic: str) -> GroupLag:
        """current_lag messages spread over the partitions (the first ones get the remainder)."""
        self.lag_asked.append((bootstrap, group, topic))
        if self.down or self.current_lag is None:
            raise TopicsError(self.down or "group unknown")
        share, rest = divmod(self.current_lag, self.partition_count)
        done = self.consumed
        return GroupLag({p: Window(done, done + share + (p < rest)) for p in range(self.partition_count)})

    def readings_lag(self, bootstrap: str, topic: str, group_lag: GroupLag, sample: int) -> ReadingsLag | None:
        """The real estimate over samples of `readings_per_message` readings per lagging message."""
        if self.readings_down:
            raise TopicsError(self.readings_down)
        self.samples_asked.append(sample)
        counts = {p: [self.readings_per_message] * min(w.messages, sample) for p, w in group_lag.windows.items()}
        return estimate(group_lag.windows, counts)

    def tail(self, bootstrap: str, topic: str, per_partition: int) -> tuple[float | None, list[bytes]]:
        if self.down:
            raise TopicsError(self.down)
        return self.newest, list(self.beats)


def beat(producer: str, ts: float, sensors: int) -> bytes:
    """A producer heartbeat as it appears on the readings topic."""
    return msgspec.msgpack.encode({"msg": "heartbeat", "producer": producer, "ts": ts, "sensors": sensors})


class Events:
    """Collects the Kubernetes events and log warnings the logic emits."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.warnings: list[str] = []

    def __call__(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


class Scaler:
    """Records scale-subresource calls (namespace, Deployment, replicas); fails with `fail` when set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.fail: Exception | None = None

    def __call__(self, namespace: str, deployment: str, replicas: int) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((namespace, deployment, replicas))


def runtime(helm: FakeHelm | None = None, kafka: FakeKafka | None = None, scaler: Scaler | None = None) -> Runtime:
    """A Runtime over the fakes."""
    settings = GridwatchOperatorSettings(workloads_image="example.org/gridwatch:1.0", data_flowing_window_seconds=60)
    return Runtime(
        settings=settings,
        helm=helm or FakeHelm(),
        kafka=kafka or FakeKafka(),
        registry=Registry(),
        scale=scaler or Scaler(),
    )


def site_spec(**spec: Any) -> dict[str, Any]:
    """A small site spec with a Kafka block; keyword blocks are merged over it."""
    body: dict[str, Any] = {
        "processor": {"replicas": 1},
        "api": {"replicas": 1},
        "kafka": {"bootstrapServers": "broker:9092", "partitions": 4},
    }
    for key, value in spec.items():
        body[key] = {**body.get(key, {}), **value} if isinstance(value, dict) else value
    return body

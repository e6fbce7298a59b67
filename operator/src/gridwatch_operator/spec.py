"""The EnergySite spec, parsed once into typed values the handlers share (identity, topics, consumer group, scaling)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridwatch_operator.autoscaler import Policy
from gridwatch_operator.maintenance import ScheduleError, windows
from gridwatch_operator.topics import topic_names

# Defaults mirror crds/energysite.yaml; the API server applies those, so these only matter for
# hand-written specs and unit tests.
DEFAULT_BOOTSTRAP = "kafka.kafka.svc:9092"
DEFAULT_PARTITIONS = 4


def site_identity(name: str, namespace: str, spec: Mapping[str, Any], status: Mapping[str, Any] | None = None) -> str:
    """The site's identity in shared Kafka, Redis and PostgreSQL (GRIDWATCH_SITE of its workloads).

    `spec.siteId` when set; else the identity the operator recorded in `status.siteId`; else, for a site deployed
    before identities were namespace-qualified (it has a Helm revision but no `status.siteId`), its bare name, so
    an operator upgrade never moves a running site's state; else `<namespace>.<name>`: two sites of one name in two
    namespaces never share a topic, consumer group, Redis key or PostgreSQL row (docs/security.md).
    """
    explicit = str(spec.get("siteId") or "")
    if explicit:
        return explicit
    status = status or {}
    recorded = str(status.get("siteId") or "")
    if recorded:
        return recorded
    if not namespace or (status.get("helm") or {}).get("revision"):
        return name
    return f"{namespace}.{name}"


@dataclass(frozen=True)
class KafkaSpec:
    """spec.kafka, with the site's effective topic prefix (topicPrefix, else the site's identity)."""

    bootstrap_servers: str
    partitions: int
    replication_factor: int
    topic_prefix: str
    prefix_override: str
    manage_topics: bool
    security: Mapping[str, Any] = field(default_factory=dict)  # spec.kafka's tls and sasl (Secret references)

    @property
    def topics(self) -> list[str]:
        """Every topic of the site."""
        return topic_names(self.topic_prefix)

    @property
    def readings_topic(self) -> str:
        """The topic producers write readings to and the processor consumes."""
        return f"{self.topic_prefix}.readings"

    @property
    def processor_group(self) -> str:
        """The processors' consumer group (the workloads name it `<prefix>.processor`)."""
        return f"{self.topic_prefix}.processor"


@dataclass(frozen=True)
class SiteSpec:
    """What the handlers read of an EnergySite spec."""

    name: str
    site_id: str
    paused: bool
    kafka: KafkaSpec
    autoscaling: bool
    policy: Policy
    timezone: str = "UTC"
    namespace: str = ""  # where the EnergySite and the Secrets it references live
    upgrade: Mapping[str, Any] | None = None  # spec.upgrade, resolved against the operator's default by rollout.py

    def problem(self) -> str | None:
        """Why the spec cannot be applied though the API server accepted it (CEL cannot check IANA names)."""
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return (
                f"spec.timezone {self.timezone!r} is not a known IANA time zone "
                "(expected a name such as 'Europe/Berlin' or 'UTC'); the site is not applied until it is fixed"
            )
        try:
            windows((self.upgrade or {}).get("maintenanceWindows") or [])
        except ScheduleError as exc:
            return f"spec.upgrade.maintenanceWindows: {exc}; the site is not applied until it is fixed"
        return None

    @classmethod
    def parse(
        cls, name: str, spec: Mapping[str, Any], namespace: str = "", status: Mapping[str, Any] | None = None
    ) -> SiteSpec:
        """Read the spec (already defaulted by the API server); the status pins the identity (site_identity)."""
        kafka = spec.get("kafka") or {}
        auto = (spec.get("processor") or {}).get("autoscaling") or {}
        override = str(kafka.get("topicPrefix") or "")
        site_id = site_identity(name, namespace, spec, status)
        return cls(
            name=name,
            site_id=site_id,
            paused=bool(spec.get("paused")),
            kafka=KafkaSpec(
                bootstrap_servers=str(kafka.get("bootstrapServers") or DEFAULT_BOOTSTRAP),
                partitions=int(kafka.get("partitions", DEFAULT_PARTITIONS)),
                replication_factor=int(kafka.get("replicationFactor", 1)),
                topic_prefix=override or site_id,
                prefix_override=override,
                manage_topics=bool(kafka.get("manageTopics", True)),
                security={k: kafka[k] for k in ("tls", "sasl") if kafka.get(k)},
            ),
            namespace=namespace,
            autoscaling=bool(auto.get("enabled")),
            policy=Policy.from_spec(auto),
            timezone=str(spec.get("timezone") or "UTC"),
            upgrade=dict(spec.get("upgrade") or {}),
        )

"""`gridwatch dlq inspect|replay`: read the dead letters with their reasons; re-publish them, as they were or fixed."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from gridwatch.common import kafka
from gridwatch.common.settings import CommonSettings

Encoding = Literal["json", "msgpack", "binary"]
REPLAYED_HEADER = "gridwatch.replayed-from"
_HEADER = "gridwatch.dlq."


class DlqError(RuntimeError):
    """The dead-letter topic cannot be read, or a replay request is invalid."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of `<prefix>.dlq`: where it came from, why it was refused, and its payload."""

    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    reason: str
    origin_topic: str
    origin_partition: int | None
    origin_offset: int | None
    payload: bytes = field(repr=False)

    @property
    def encoding(self) -> Encoding:
        """How the payload is encoded: JSON text, msgpack (ReadingBatch and friends) or opaque bytes."""
        return _decode(self.payload)[0]

    def preview(self, width: int = 120) -> str:
        """One line of the payload, decoded when it can be."""
        kind, value = _decode(self.payload)
        text = self.payload[:width].hex() if kind == "binary" else json.dumps(value, default=str)
        return text if len(text) <= width else text[: width - 1] + "…"

    def as_json(self) -> dict[str, Any]:
        """The form `inspect --json` prints and `replay --from-file` reads back (edit `payload` to fix a letter)."""
        kind, value = _decode(self.payload)
        out: dict[str, Any] = {
            "dlq": f"{self.partition}:{self.offset}",
            "timestamp_ms": self.timestamp_ms,
            "key": self.key,
            "reason": self.reason,
            "origin_topic": self.origin_topic,
            "origin_partition": self.origin_partition,
            "origin_offset": self.origin_offset,
            "encoding": kind,
        }
        if kind == "binary":
            out["payload_b64"] = base64.b64encode(self.payload).decode()
        else:
            out["payload"] = value
        return out


def _decode(payload: bytes) -> tuple[Encoding, Any]:
    try:
        return "json", json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        pass
    try:
        return "msgpack", msgspec.msgpack.decode(payload)
    except (msgspec.DecodeError, ValueError):
        return "binary", None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _letter(msg: Message) -> DeadLetter:
    headers: dict[str, str] = {}
    for pair in msg.headers() or []:
        name, raw = pair[0], pair[1]
        headers[str(name)] = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
    key = msg.key()
    return DeadLetter(
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        timestamp_ms=msg.timestamp()[1],
        key=None if key is None else key.decode(errors="replace"),
        reason=headers.get(_HEADER + "reason", "(no reason header)"),
        origin_topic=headers.get(_HEADER + "topic", ""),
        origin_partition=_int(headers.get(_HEADER + "partition", "")),
        origin_offset=_int(headers.get(_HEADER + "offset", "")),
        payload=msg.value() or b"",
    )


def read(
    settings: CommonSettings, last: int = 100, reason_contains: str = "", timeout_s: float = 10.0
) -> list[DeadLetter]:
    """The newest `last` dead letters of each partition (oldest first), optionally only those whose reason matches.

    Reads with a throw-away group and commits nothing, so inspecting never moves anyone's offsets.
    """
    topic = settings.topic("dlq")
    config = kafka.client_config(
        settings.kafka_bootstrap,
        settings,
        **{
            "group.id": f"gridwatch-dlq-inspect-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        },
    )
    consumer = Consumer(config)
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if meta is None or meta.error is not None:
            if meta is None or meta.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise DlqError(f"topic {topic} does not exist (is GRIDWATCH_SITE right, has the site started?)")
            raise DlqError(f"topic {topic} cannot be read: {meta.error.str()}")
        starts: list[TopicPartition] = []
        ends: dict[int, int] = {}
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if high > low:
                starts.append(TopicPartition(topic, p, max(low, high - last)))
                ends[p] = high
        letters = list(_drain(consumer, starts, ends, timeout_s))
    except KafkaException as exc:
        raise DlqError(f"Kafka: {exc}") from exc
    finally:
        consumer.close()
    needle = reason_contains.lower()
    chosen = [x for x in letters if needle in x.reason.lower()]
    return sorted(chosen, key=lambda x: (x.timestamp_ms, x.partition, x.offset))


def _drain(
    consumer: Consumer, starts: list[TopicPartition], ends: dict[int, int], timeout_s: float
) -> Iterator[DeadLetter]:
    """Every message from the start offsets up to the high watermarks read beforehand."""
    if not starts:
        return
    consumer.assign(starts)
    pending = dict(ends)
    while pending:
        batch = consumer.consume(500, timeout=timeout_s)
        if not batch:
            raise DlqError(f"no answer from Kafka within {timeout_s:g} s; partitions left: {sorted(pending)}")
        for msg in batch:
            err = msg.error()
            p = msg.partition() or 0
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.pop(p, None)
                    continue
                raise DlqError(f"Kafka: {err.str()}")
            if p in pending and (msg.offset() or 0) < pending[p]:
                yield _letter(msg)
            if p in pending and (msg.offset() or 0) >= pending[p] - 1:
                pending.pop(p)


@dataclass(frozen=True)
class Replay:
    """One message to re-publish."""

    topic: str
    key: bytes | None
    payload: bytes
    origin: str  # "<dlq partition>:<offset>", recorded in the gridwatch.replayed-from header


def from_letters(settings: CommonSettings, letters: Iterable[DeadLetter], to: str = "") -> list[Replay]:
    """Re-publish dead letters unchanged to their origin topic (or `to`)."""
    return [
        Replay(
            _target(settings, to or x.origin_topic, f"{x.partition}:{x.offset}"),
            None if x.key is None else x.key.encode(),
            x.payload,
            f"{x.partition}:{x.offset}",
        )
        for x in letters
    ]


def from_file(settings: CommonSettings, path: Path, to: str = "") -> list[Replay]:
    """Read `inspect --json` lines (possibly edited) back into messages; the error names the bad line."""
    out: list[Replay] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")
            out.append(_from_item(settings, item, to))
        except (ValueError, KeyError, TypeError, msgspec.EncodeError) as exc:
            raise DlqError(f"{where}: {exc}") from None
    return out


def _from_item(settings: CommonSettings, item: dict[str, Any], to: str) -> Replay:
    origin = str(item.get("dlq", "file"))
    encoding = item.get("encoding", "json")
    if "payload" in item:
        if encoding == "msgpack":
            payload = msgspec.msgpack.encode(item["payload"])
        elif encoding == "json":
            payload = json.dumps(item["payload"], separators=(",", ":")).encode()
        else:
            raise ValueError(f"encoding {encoding!r} carries payload_b64, not payload")
    elif "payload_b64" in item:
        payload = base64.b64decode(str(item["payload_b64"]), validate=True)
    else:
        raise ValueError("neither payload nor payload_b64")
    key = item.get("key")
    topic = _target(settings, to or str(item.get("origin_topic") or ""), origin)
    return Replay(topic, None if key is None else str(key).encode(), payload, origin)


def _target(settings: CommonSettings, topic: str, origin: str) -> str:
    """Only the site's own topics, never the DLQ itself."""
    if not topic:
        raise DlqError(f"dead letter {origin} has no origin topic; pass --to")
    if topic == settings.topic("dlq"):
        raise DlqError(f"dead letter {origin}: refusing to re-publish into the dead-letter topic itself")
    if not topic.startswith(settings.prefix + "."):
        raise DlqError(f"dead letter {origin}: {topic} is not one of site {settings.prefix}'s topics")
    return topic


def publish(settings: CommonSettings, replays: list[Replay], timeout_s: float = 30.0) -> int:
    """Produce every message and wait for the broker's acknowledgements; returns how many were delivered."""
    producer = Producer(kafka.client_config(settings.kafka_bootstrap, settings, **{"enable.idempotence": True}))
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err.str()}")

    for r in replays:
        headers = [(REPLAYED_HEADER, f"{settings.topic('dlq')}:{r.origin}".encode())]
        kafka.produce(producer, r.topic, r.payload, r.key, headers=headers, on_delivery=on_delivery)
    left = producer.flush(timeout_s)
    if left or failures:
        raise DlqError(f"{left} message(s) unconfirmed, {len(failures)} refused: {'; '.join(failures[:3])}")
    return len(replays)

"""The paho client both MQTT directions use: MQTT 3.1.1, the broker credentials and TLS of the ingest settings."""

from __future__ import annotations

import ssl
import struct
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MessageType, MQTTErrorCode

from gridwatch.ingest.settings import IngestSettings

READ_BURST = 1000  # packets read per wake-up of paho's network loop
_PUBACK = struct.Struct("!BBH")  # MQTT 3.1.1 PUBACK: type 0x40, remaining length 2, packet id


class Client(mqtt.Client):
    """paho's client, reading every packet already waiting on the socket per wake-up instead of one.

    paho 2.2 reads `len(outgoing) + len(incoming QoS 2)` packets per `select()`, which is one for a subscriber that
    publishes nothing: a `select()` round per received message. Reading stops at the first would-block, exactly
    where paho's own loop stops, so nothing else changes (partial packets, errors, TLS as before).
    """

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read up to READ_BURST packets (the `max_packets` argument is obsolete in paho as well)."""
        for _ in range(READ_BURST):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages (manual_ack) in one queued write instead of one write and one wake-up each:
        the same PUBACK packets, in the given order, that `ack(mid, 1)` sends one at a time."""
        if not mids:
            return
        packet = b"".join([_PUBACK.pack(MessageType.PUBACK, 2, mid) for mid in mids])
        self._packet_queue(MessageType.PUBACK, packet, mids[-1], 1)


def client(settings: IngestSettings, client_id: str, *, clean_session: bool, manual_ack: bool = False) -> Client:
    """A client with the settings' username/password and TLS, reconnecting by itself after 1-10 s."""
    out = Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    if settings.mqtt_username:
        out.username_pw_set(settings.mqtt_username, settings.mqtt_password.get_secret_value() or None)
    if settings.mqtt_tls:
        out.tls_set(
            ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
            keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    out.reconnect_delay_set(min_delay=1, max_delay=10)
    return out

"""The paho client both MQTT directions use: MQTT 3.1.1, the broker credentials and TLS of the ingest settings."""

from __future__ import annotations

import ssl
import struct
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MessageType, MQTTErrorCode

from gridwatch.ingest.settings import IngestSettings

READ_BURST = 1000  # packets read per wake-up of paho's network loop (more while the read buffer holds bytes)
RECV_CHUNK = 65536  # bytes asked of the socket per recv(): many small packets at once
_PUBACK = struct.Struct("!BBH")  # MQTT 3.1.1 PUBACK: type 0x40, remaining length 2, packet id


class Client(mqtt.Client):
    """paho's client, reading every packet already waiting on the socket per wake-up instead of one, through a
    read buffer, and handing messages straight to `on_message`.

    paho 2.2 reads `len(outgoing) + len(incoming QoS 2)` packets per `select()`, which is one for a subscriber that
    publishes nothing: a `select()` round per received message. Reading stops at the first would-block, exactly
    where paho's own loop stops, so nothing else changes (partial packets, errors, TLS as before). paho also asks
    the socket for each packet's first byte, each byte of its length and then its body: three or more `recv()`
    calls per message, which the buffer turns into one per RECV_CHUNK bytes.
    """

    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None  # the socket the buffered bytes came from

    def _sock_recv(self, bufsize: int) -> bytes:
        """paho's `_sock_recv`, served from a buffer that one `recv(RECV_CHUNK)` refills when it runs dry (raises
        BlockingIOError, like paho's, only when both are empty)."""
        if self._rsock is not self._sock:  # a new connection: bytes of the old one mean nothing
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, RECV_CHUNK))
            if len(data) <= bufsize:
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def _buffered(self) -> bool:
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read up to READ_BURST packets, and on while the read buffer holds bytes, which `select()` cannot see
        (the `max_packets` argument is obsolete in paho as well)."""
        count = 0
        while count < READ_BURST or self._buffered():
            count += 1
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        """paho's dispatch without its per-message walk of the topic-callback tree when no topic callback was
        added (`message_callback_add`); with one, paho's own dispatch."""
        if self._on_message_filtered._root._children:
            super()._handle_on_message(message)
            return
        on_message = self.on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

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

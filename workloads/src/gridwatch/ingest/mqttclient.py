"""The paho client both MQTT directions use: MQTT 3.1.1, the broker credentials and TLS of the ingest settings."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.ingest.settings import IngestSettings


def client(settings: IngestSettings, client_id: str, *, clean_session: bool, manual_ack: bool = False) -> mqtt.Client:
    """A client with the settings' username/password and TLS, reconnecting by itself after 1-10 s."""
    out = mqtt.Client(
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

"""Debian's Mosquitto MQTT broker for tests: the product's own server (gridwatch.local.mosquitto)."""

from __future__ import annotations

from gridwatch.local.mosquitto import Mosquitto

__all__ = ["Mosquitto"]

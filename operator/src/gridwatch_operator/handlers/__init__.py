"""kopf handlers, one module per concern; importing this package registers them all with kopf.

Handlers are synchronous (kopf runs them in its thread pool) because helm, the Kafka AdminClient
and the Kubernetes client all block. A site's helm operations hold that site's lock (registry.py).
The logic lives in site.py, free of kopf; these modules only translate kopf's arguments.
"""

from __future__ import annotations

from gridwatch_operator.handlers import autoscale, delete, observe, reconcile, rollout, startup
from gridwatch_operator.handlers.common import SETTINGS

__all__ = ["SETTINGS", "autoscale", "delete", "observe", "reconcile", "rollout", "startup"]

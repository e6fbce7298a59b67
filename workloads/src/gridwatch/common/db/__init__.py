"""The site database: schema migrations, connections and pools, and the offset ledger, shared by every workload."""

from gridwatch.common.db.connection import async_pool, connect, pool
from gridwatch.common.db.ledger import OffsetLedger, next_offsets
from gridwatch.common.db.migrate import MigrationError, migrate

__all__ = ["MigrationError", "OffsetLedger", "async_pool", "connect", "migrate", "next_offsets", "pool"]

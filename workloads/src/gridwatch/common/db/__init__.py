"""The site database: schema migrations, connections and (soon) the pool and the offset ledger, shared by every workload."""

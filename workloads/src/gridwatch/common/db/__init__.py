"""The site database: schema migrations and connections, shared by every workload that keeps tables."""

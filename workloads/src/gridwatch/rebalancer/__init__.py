"""Grid rebalancer: dispatch plan + live state -> safe setpoint commands on `<prefix>.commands`, audited."""

"""Grafana dashboards as code (grafana-foundation-sdk), rendered to JSON into charts/energy-site/dashboards/."""

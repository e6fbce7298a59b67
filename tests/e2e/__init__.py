"""End-to-end tests: the Kubernetes control plane and the browser."""

"""A Kubernetes API sandbox for tests and demos: serves the REST API on loopback (see sandbox/README.md)."""

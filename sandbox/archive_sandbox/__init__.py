"""A Kubernetes API sandbox for tests and demos: the REST API on loopback (sandbox/README.md)."""

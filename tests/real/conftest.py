"""The real tier: checks that only the real control plane can make (controlplane/, marker `real`).

The `real_cluster` fixture (tests/fixtures/controlplane.py) starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and one node agent once per test session.
"""

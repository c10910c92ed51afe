"""Shared fixtures live in tests/fixtures/, one module per real service a test may need."""

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.radicale",
    "tests.fixtures.controlplane",
]

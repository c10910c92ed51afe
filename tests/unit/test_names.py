"""CronJob names and label values."""

from __future__ import annotations

import re

import pytest
from archive_operator.constants import cronjob_name, is_label_value, label_value

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_short_names_are_schedule_dash_entry() -> None:
    assert cronjob_name("alice", "nightly") == "alice-nightly"


@pytest.mark.parametrize(
    ("schedule", "entry"),
    [
        ("a" * 40, "nightly-and-more"),
        ("x" * 253, "e"),
        ("team.alice." + "b" * 60, "weekly"),
        ("a" * 32, "b" * 20),
    ],
)
def test_long_names_are_cut_and_hashed(schedule: str, entry: str) -> None:
    name = cronjob_name(schedule, entry)
    assert len(name) <= 52
    assert DNS_SUBDOMAIN.match(name), name
    assert name == cronjob_name(schedule, entry)  # deterministic
    assert re.search(r"-[0-9a-f]{8}$", name)


def test_exactly_52_is_kept() -> None:
    schedule = "s" * 31
    assert cronjob_name(schedule, "e" * 20) == f"{schedule}-{'e' * 20}"


def test_long_names_sharing_a_prefix_differ() -> None:
    base = "a" * 50
    assert cronjob_name(base, "one") != cronjob_name(base, "two")


@pytest.mark.parametrize("user", ["alice", "Alice.Smith", "a_b-c", "x" * 63])
def test_label_safe_users_are_unchanged(user: str) -> None:
    assert label_value(user) == user


@pytest.mark.parametrize(
    "user", ["bob@example.com", "bob+work@example.com", "x" * 64, "@@@", "a@b"]
)
def test_other_users_become_valid_distinct_label_values(user: str) -> None:
    value = label_value(user)
    assert is_label_value(value), value
    assert value != user
    assert value == label_value(user)


def test_similar_users_do_not_collide() -> None:
    assert label_value("bob@example.com") != label_value("bob-example.com")
    assert label_value("bob@example.com").startswith("bob-example.com-")

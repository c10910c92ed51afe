"""Copy-avoidance on the write path never lets a caller reach stored state, nor the reverse."""

from __future__ import annotations

from archive_sandbox.copies import deep_copy


def test_deep_copy_shares_nothing() -> None:
    original = {"a": [1, {"b": "c"}], "d": {"e": None, "f": 1.5}, "t": (1, 2)}
    copied = deep_copy(original)
    assert copied == original
    copied["a"][1]["b"] = "changed"
    copied["d"]["e"] = 1
    assert original == {"a": [1, {"b": "c"}], "d": {"e": None, "f": 1.5}, "t": (1, 2)}
    assert isinstance(copied["t"], tuple)


def test_deep_copy_falls_back_for_values_pickle_refuses() -> None:
    def fn() -> int:
        return 1

    original = {"hook": fn, "items": [{"x": 1}]}
    copied = deep_copy(original)
    assert copied["hook"] is fn
    copied["items"][0]["x"] = 2
    assert original["items"][0]["x"] == 1

"""Deep copies of JSON-like API objects, fast.

`copy.deepcopy` walks values in Python; a pickle round trip does the same in C and is about
four times faster on API objects (measured on a CronJob with managedFields: 0.21 → 0.05 ms).
Like deepcopy it keeps types (tuples stay tuples) and shared references within the value.
Values pickle cannot take (a callable, say) fall back to `copy.deepcopy`.
"""

from __future__ import annotations

import copy
import pickle
from typing import TypeVar

T = TypeVar("T")


def deep_copy(value: T) -> T:
    """An independent copy of ``value``: nothing in it is shared with the original."""
    try:
        copied: T = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(value)
    return copied

"""The one test of "a finite number" for every number read from a file or an option.

JSON (``NaN``, ``Infinity``) and TOML (``nan``, ``inf``) both spell values that
are numbers to Python but break every later comparison or sample count, so
each reader refuses them with this test and its own message naming the file
and line.
"""

from __future__ import annotations

import math


def is_finite_number(value: object) -> bool:
    """True for an int or a float (never a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

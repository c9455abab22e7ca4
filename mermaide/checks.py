"""The one validation vocabulary of the package: every constructor, knob and hyper-parameter
is checked with these, so every refusal reads the same way (a ``ValueError`` naming the
argument, the value and what is allowed)."""

from __future__ import annotations

import math

import numpy as np


def check_number(name: str, value: object, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    if not math.isfinite(number) or too_low or number > high:
        raise ValueError(f"{name} must be {_allowed(low, high, low_open)}, got {value!r}")
    return number


def check_numbers(name: str, value: object, size: int, low: float = -math.inf,
                  high: float = math.inf, low_open: bool = False, high_open: bool = False
                  ) -> np.ndarray:
    """A scalar or a (size,) array of finite reals in [low, high] (either end open), as a
    float array of shape () or (size,): one parameter per agent of a batch."""
    # Only real numbers: a string, a bool, a complex number or a mixed list is refused by
    # name here, not converted (np.asarray("x", float) fails without naming the parameter;
    # True would pass as 1.0 and 1 + 2j would lose its imaginary part).
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real number or an array of real numbers, got "
                         f"{value!r}")
    array = raw.astype(np.float64)
    if array.ndim > 1 or (array.ndim == 1 and array.shape[0] != size):
        raise ValueError(
            f"{name} must be a scalar or an array of shape ({size},), got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    too_low = array <= low if low_open else array < low
    too_high = array >= high if high_open else array > high
    if np.any(too_low) or np.any(too_high):
        bad = float(array[too_low | too_high].ravel()[0]) if array.ndim else float(array)
        raise ValueError(f"{name} must be {_allowed(low, high, low_open, high_open)}, got "
                         f"{bad!r}")
    return array


def _allowed(low: float, high: float, low_open: bool, high_open: bool = False) -> str:
    """The allowed range in words: "> 0", ">= 1", "<= 1" or "in (0, 1]"."""
    if high == math.inf:
        return f"> {low:g}" if low_open else f">= {low:g}"
    if low == -math.inf:
        return f"< {high:g}" if high_open else f"<= {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_int(name: str, value: object, low: int) -> int:
    """An integer (not a bool) >= low."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """True or False (not 0, 1 or another truthy value)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """One of the ``allowed`` strings."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value

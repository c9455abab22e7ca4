"""The one validation vocabulary of the package: every constructor, knob and hyper-parameter
is checked with these, so every refusal reads the same way (a ``ValueError`` naming the
argument, the value and what is allowed), and every principal's ``load`` refuses a bad file
with one error type, ``CheckpointError``."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# numpy computes with 64-bit integers: an integer outside [-2**63, 2**63 - 1] overflows in it
# ("Python int too large to convert to C long"), so a real number given as such an integer is
# refused; a float of any finite size is a real number (1e30, not 10**30).
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1

# The largest size (a count of arms, actions, states, grid rows or columns, of games in a
# vector env, or of a benchmark's tasks and episodes) that ``check_size`` accepts. Far beyond
# any game one would play (one float64 array of that many entries is 16 GiB, and a game holds
# several), it refuses a hostile size by name instead of letting it fail in numpy in words
# that name no argument ("Maximum allowed dimension exceeded", an OverflowError); small enough
# that a product of two sizes (a flat index, a count of actions) stays within numpy's int64.
# A size below it can still be more than the machine holds: that is numpy's MemoryError.
MAX_SIZE = 2**31 - 1

# The largest seed ``check_seed`` accepts: numpy's legacy seeding (``np.random.seed``, which
# stable-baselines3's ``set_random_seed`` calls) refuses a seed of 2**32 or more, so a larger
# one would fail only once a run had started.
MAX_SEED = 2**32 - 1


def check_number(name: str, value: object, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] with ``low_open``); given as an
    integer, one that numpy's int64 holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, (int, np.integer)) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} must be a float or an integer in [-2**63, 2**63 - 1] "
                         f"(numpy's int64), got {value!r}")
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


def check_size(name: str, value: object, low: int = 1) -> int:
    """A size: an integer (not a bool) in [low, MAX_SIZE]."""
    size = check_int(name, value, low)
    if size > MAX_SIZE:
        raise ValueError(f"{name} must be an integer in [{low}, 2**31 - 1] (a size, at most "
                         f"mermaide.checks.MAX_SIZE), got {value!r}")
    return size


def check_seed(name: str, value: object) -> int:
    """A seed: an integer (not a bool) in [0, MAX_SEED]."""
    seed = check_int(name, value, 0)
    if seed > MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**32 - 1] (a seed, at most "
                         f"mermaide.checks.MAX_SEED), got {value!r}")
    return seed


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


class CheckpointError(ValueError):
    """A file that a principal's ``load`` refuses: not a checkpoint (empty, random bytes,
    truncated, a pickle that would run code), another principal's, or a checkpoint with an
    entry missing or of the wrong type or shape. The message names the file and what is
    wrong; the principal that refused it is unchanged."""


def other_principal(path: object, found: object, name: str) -> CheckpointError:
    """The refusal of a checkpoint that is not the principal ``name``'s (``found`` is what the
    file says it holds)."""
    return CheckpointError(f"{path!r} does not hold a {name!r} principal: it holds "
                           f"{found!r}, not a {name!r} one")


@contextmanager
def reading_checkpoint(path: object) -> Iterator[None]:
    """Run the body of a ``load``: any failure to read or interpret the file at ``path``
    becomes a ``CheckpointError`` naming it (the original error is chained).

    The net is wide on purpose: a checkpoint comes from outside, so whatever a malformed one
    makes the parsing code raise (a ``KeyError`` for a missing entry, a ``RuntimeError`` for
    a weight of the wrong shape, a ``TypeError`` for an entry of the wrong type, even an
    ``OSError`` from torch seeking in a truncated zip) is the file's fault, and one error
    type lets a caller catch them all. No such file, a folder, or no permission to read is
    the file system's answer, not the file's, and passes through."""
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    try:
        yield
    except (CheckpointError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except EOFError as error:
        raise CheckpointError(f"{name!r} is not a usable checkpoint: it ends early (empty or "
                              f"truncated)") from error
    except KeyError as error:
        raise CheckpointError(f"{name!r} is not a usable checkpoint: it has no entry "
                              f"{error.args[0]!r}") from error
    except Exception as error:
        # On one line: torch's messages span several (the missing weights on the second).
        said = " ".join(str(error).split())
        raise CheckpointError(f"{name!r} is not a usable checkpoint: "
                              f"{type(error).__name__}: {said}") from error

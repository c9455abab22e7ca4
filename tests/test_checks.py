"""The shared validation vocabulary: a refusal names the argument, the value and what is
allowed, and nothing that is not a real number passes as one."""

import numpy as np
import pytest

from mermaide.checks import (
    MAX_SEED,
    MAX_SIZE,
    check_number,
    check_numbers,
    check_seed,
    check_size,
)


@pytest.mark.parametrize("value", ["x", "0.5", True, np.array([True, False]), 1 + 2j,
                                   [0.1, None], None, {"a": 1}])
def test_check_numbers_refuses_what_is_not_real_numbers_by_name(value):
    with pytest.raises(ValueError, match=r"^eta must be a real number or an array of real "
                                         r"numbers, got "):
        check_numbers("eta", value, 2)


@pytest.mark.parametrize("value, message", [
    (float("nan"), "eta must be finite"), (float("inf"), "eta must be finite"),
    (-1.0, r"eta must be > 0, got -1.0"), ([0.1, 0.2, 0.3], r"shape \(2,\)"),
])
def test_check_numbers_refuses_out_of_range_values_with_the_range(value, message):
    with pytest.raises(ValueError, match=message):
        check_numbers("eta", value, 2, low=0.0, low_open=True)


def test_check_numbers_accepts_ints_floats_and_arrays_as_floats():
    assert check_numbers("eta", 1, 2).dtype == np.float64
    np.testing.assert_array_equal(check_numbers("eta", np.array([1, 2]), 2), [1.0, 2.0])
    assert float(check_numbers("eta", np.float32(0.5), 2)) == 0.5


@pytest.mark.parametrize("value", [10**30, -10**30, 2**63, -2**63 - 1, 10**400])
def test_check_number_refuses_an_integer_numpy_cannot_hold_by_name(value):
    # 10**400 is beyond even float(): an OverflowError before the check was written.
    with pytest.raises(ValueError, match=rf"^cost must be a float or an integer in \[-2\*\*63, "
                                         rf"2\*\*63 - 1\] \(numpy's int64\), got {value}$"):
        check_number("cost", value, low=0.0)


def test_check_number_accepts_int64_integers_and_large_floats():
    assert check_number("cost", 2**63 - 1) == float(2**63 - 1)
    assert check_number("cost", -2**63) == float(-2**63)
    assert check_number("cost", 1e30) == 1e30


@pytest.mark.parametrize("value", [MAX_SIZE + 1, 2**63, 10**30])
def test_check_size_refuses_a_size_beyond_max_size_by_name(value):
    with pytest.raises(ValueError, match=rf"^n_arms must be an integer in \[2, 2\*\*31 - 1\] "
                                         rf"\(a size, at most mermaide.checks.MAX_SIZE\), "
                                         rf"got {value}$"):
        check_size("n_arms", value, 2)


def test_check_size_is_check_int_up_to_max_size():
    assert check_size("n_arms", MAX_SIZE, 2) == MAX_SIZE
    assert check_size("n_arms", np.int64(3), 2) == 3
    for value in (1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=r"^n_arms must be an integer >= 2, got "):
            check_size("n_arms", value, 2)


def test_check_seed_takes_integers_from_0_to_max_seed_and_refuses_the_rest_by_name():
    assert check_seed("seed", 0) == 0 and check_seed("seed", np.uint32(MAX_SEED)) == MAX_SEED
    for value in (MAX_SEED + 1, 2**64, 10**30):
        with pytest.raises(ValueError, match=rf"^seed must be an integer in \[0, 2\*\*32 - 1\] "
                                             rf"\(a seed, at most mermaide.checks.MAX_SEED\), "
                                             rf"got {value}$"):
            check_seed("seed", value)
    for value in (-1, 0.5, "3", True):
        with pytest.raises(ValueError, match=r"^seed must be an integer >= 0, got "):
            check_seed("seed", value)

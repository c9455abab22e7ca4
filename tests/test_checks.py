"""The shared validation vocabulary: a refusal names the argument, the value and what is
allowed, and nothing that is not a real number passes as one."""

import numpy as np
import pytest

from mermaide.checks import check_numbers


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

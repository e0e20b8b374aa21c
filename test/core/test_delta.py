"""The one validation of the 8-D delta and the one workspace-box clamp."""

import math
import re

import numpy as np
import pytest

from contrastive_vla.core import vocabulary
from contrastive_vla.core.delta import (
    DELTA_LAYOUT,
    GRIPPER_INDEX,
    DeltaError,
    as_delta,
    clamp_to_box,
)


def test_layout():
    assert DELTA_LAYOUT[GRIPPER_INDEX] == 'gripper' and len(DELTA_LAYOUT) == 8
    assert vocabulary.AXES[:GRIPPER_INDEX] == vocabulary.MOTION_AXES


def test_valid_delta_comes_back_as_float64():
    d = as_delta([0, 0.05, 0, 0, 0, 0, 0, -1])
    assert d.dtype == np.float64 and d.shape == (8,)
    np.testing.assert_array_equal(d, [0, 0.05, 0, 0, 0, 0, 0, -1])
    assert as_delta(np.zeros((2, 4))).shape == (8,)


@pytest.mark.parametrize('bad, why', [
    (np.zeros(7), 'delta has 7 values; expected 8 (dx dy dz roll pitch yaw wrist_rotate '
                  'gripper)'),
    ([0.0] * 7 + [math.nan], 'non-finite'),
    ([math.inf] + [0.0] * 7, 'non-finite'),
    ('left', 'not numeric'),
    ([[0.0], [0.0, 1.0]], 'not numeric'),
])
def test_invalid_deltas_say_why(bad, why):
    with pytest.raises(DeltaError, match=re.escape(why)):
        as_delta(bad)
    assert issubclass(DeltaError, ValueError)


def test_clamp_to_box():
    point, changed = clamp_to_box(np.array([0.9, 0.0, -0.1]), np.zeros(3), np.ones(3) * 0.5)
    np.testing.assert_allclose(point, [0.5, 0.0, 0.0])
    assert changed
    assert not clamp_to_box(np.array([0.1, 0.1, 0.1]), np.zeros(3), np.ones(3))[1]
    point, changed = clamp_to_box([1, 2, 3], (0, 0, 0), (5, 5, 5))  # lists and ints too
    assert point.dtype == np.float64 and not changed

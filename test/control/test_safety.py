import math

import numpy as np
import pytest

from contrastive_vla.control import safety


@pytest.fixture
def limits():
    return safety.ArmSafetyLimits(
        workspace_lower=(0.2, -0.4, 0.015), workspace_upper=(0.75, 0.4, 0.45),
        max_step_translation=0.2, max_step_rotation=0.8, max_linear_speed=0.25,
        max_angular_speed=1.2, joint_lower=(-1.0, -2.0), joint_upper=(1.0, 2.0),
        joint_velocity=(1.0, 0.5))


def delta(**kw):
    d = np.zeros(8)
    for i, k in enumerate(('dx', 'dy', 'dz', 'roll', 'pitch', 'yaw', 'wrist', 'grip')):
        d[i] = kw.get(k, 0.0)
    return d


def test_valid_delta_passes(limits):
    np.testing.assert_array_equal(safety.check_delta(delta(dx=0.05, grip=-1), limits),
                                  delta(dx=0.05, grip=-1))


@pytest.mark.parametrize('bad, words', [
    (np.zeros(7), 'has 7 values'),
    (delta(dx=math.nan), 'non-finite'),
    (delta(dy=math.inf), 'non-finite'),
    (delta(dx=0.15, dy=0.15), 'translation step 0.212 m exceeds'),
    (delta(yaw=0.9), 'rotation step 0.900 rad exceeds'),
    (delta(grip=0.5), 'gripper command'),
    ('left', 'not numeric'),
])
def test_bad_deltas_are_refused_with_the_reason(limits, bad, words):
    with pytest.raises(safety.SafetyError, match=words.replace('.', r'\.')):
        safety.check_delta(bad, limits)


def test_workspace_clamp_reports_and_stays_inside(limits):
    p, clamped = safety.clamp_to_workspace([0.9, 0.0, -0.1], limits)
    assert clamped and safety.inside_workspace(p, limits)
    np.testing.assert_allclose(p, [0.75, 0.0, 0.015])
    p, clamped = safety.clamp_to_workspace([0.5, 0.0, 0.2], limits)
    assert not clamped


def test_joint_limits(limits):
    safety.check_joint_positions([0.5, -1.5], limits)
    with pytest.raises(safety.SafetyError, match='joint 1 at 2.500'):
        safety.check_joint_positions([0.0, 2.5], limits)
    with pytest.raises(safety.SafetyError, match='non-finite'):
        safety.check_joint_positions([math.nan, 0.0], limits)
    with pytest.raises(safety.SafetyError, match='has 3 joints'):
        safety.check_joint_positions([0.0, 0.0, 0.0], limits)


def test_trajectory_speed_and_time_checks(limits):
    safety.check_trajectory([0, 0], [[0.1, 0.05], [0.2, 0.1]], [0.1, 0.2], limits)
    with pytest.raises(safety.SafetyError, match='joint 1 at 1.00 rad/s'):
        safety.check_trajectory([0, 0], [[0.05, 0.1]], [0.1], limits)
    with pytest.raises(safety.SafetyError, match='increase'):
        safety.check_trajectory([0, 0], [[0.0, 0.0], [0.0, 0.0]], [0.1, 0.1], limits)
    with pytest.raises(safety.SafetyError, match='waypoint 0'):
        safety.check_trajectory([0, 0], [[1.5, 0.0]], [10.0], limits)


def test_twist_is_capped_and_ends_inside_the_box(limits):
    v, w = safety.limit_twist([1.0, 0.0, 0.0], [0.0, 0.0, 0.0], limits)
    assert np.linalg.norm(v) == pytest.approx(0.25)
    linear, angular, duration, clamped = safety.twist_plan(delta(dx=0.1), limits,
                                                           tcp_position=[0.7, 0.0, 0.2])
    assert clamped
    np.testing.assert_allclose(linear * duration, [0.05, 0.0, 0.0], atol=1e-9)
    assert np.linalg.norm(linear) <= 0.25 + 1e-9


def test_watchdog():
    dog = safety.CommandWatchdog(0.5)
    assert dog.expired(0.0)
    dog.feed(1.0)
    assert not dog.expired(1.4)
    assert dog.expired(1.6)
    with pytest.raises(ValueError):
        safety.CommandWatchdog(0)


def test_limits_validate_themselves():
    with pytest.raises(ValueError, match='lower < upper'):
        safety.ArmSafetyLimits((0, 0, 0), (1, -1, 1), 0.1, 0.1, 0.1, 0.1)
    with pytest.raises(ValueError, match='max_linear_speed'):
        safety.ArmSafetyLimits((0, 0, 0), (1, 1, 1), 0.1, 0.1, -1.0, 0.1)

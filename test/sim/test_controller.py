import numpy as np
import pytest

from contrastive_vla.sim.controller import JointTrajectoryFollower, TrajectoryError


def follower():
    return JointTrajectoryFollower(['a', 'b'], [-1, -1], [1, 1])


def test_interpolates_from_the_current_targets_and_holds():
    f = follower()
    assert f.target(0.0) is None
    f.load(['a', 'b'], [[0.2, 0.0], [0.4, 0.2]], [1.0, 2.0], now=10.0, current=[0.0, 0.0])
    np.testing.assert_allclose(f.target(10.5), [0.1, 0.0])
    np.testing.assert_allclose(f.target(11.5), [0.3, 0.1])
    np.testing.assert_allclose(f.target(99.0), [0.4, 0.2])


def test_joint_order_is_taken_from_the_message():
    f = follower()
    f.load(['b', 'a'], [[0.5, -0.5]], [1.0], now=0.0, current=[0.0, 0.0])
    np.testing.assert_allclose(f.target(1.0), [-0.5, 0.5])


def test_empty_trajectory_stops_where_it_is():
    f = follower()
    f.load(['a', 'b'], [[0.5, 0.5]], [1.0], now=0.0, current=[0.0, 0.0])
    f.load(['a', 'b'], [], [], now=0.5, current=[0.25, 0.25])
    np.testing.assert_allclose(f.target(5.0), [0.25, 0.25])


@pytest.mark.parametrize('names, points, times, why', [
    (['a', 'c'], [[0, 0]], [1.0], 'not the arm joints'),
    (['a', 'b'], [[0, 0, 0]], [1.0], '3 positions'),
    (['a', 'b'], [[np.nan, 0]], [1.0], 'non-finite'),
    (['a', 'b'], [[2.0, 0]], [1.0], 'joint limits'),
    (['a', 'b'], [[0, 0], [0.1, 0]], [1.0, 1.0], 'increasing'),
])
def test_refuses_what_a_controller_would(names, points, times, why):
    f = follower()
    with pytest.raises(TrajectoryError, match=why):
        f.load(names, points, times, now=0.0, current=[0.0, 0.0])
    assert f.target(1.0) is None  # nothing loaded

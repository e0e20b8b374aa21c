import math

import numpy as np
import pytest

from contrastive_vla.core.status import Outcome
from contrastive_vla.core.vocabulary import axis_rotation
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.sim.env import HOME_ROTATION


def test_rotvec_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = rng.normal(size=3)
        r *= rng.uniform(0, math.pi - 1e-3) / np.linalg.norm(r)
        np.testing.assert_allclose(kin.matrix_to_rotvec(kin.rotvec_to_matrix(r)), r, atol=1e-6)
    flip = kin.matrix_to_rotvec(axis_rotation('yaw', math.pi))
    assert np.linalg.norm(flip) == pytest.approx(math.pi)


def test_target_pose_applies_each_axis_in_the_documented_frame():
    pos, rot = np.array([0.4, 0.0, 0.2]), HOME_ROTATION
    p, r = kin.target_pose(pos, rot, [0.01, -0.05, 0.1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(p, [0.41, -0.05, 0.3])
    np.testing.assert_allclose(r, rot)
    _, r = kin.target_pose(pos, rot, [0, 0, 0, 0, 0, math.pi / 2, 0, 0])
    np.testing.assert_allclose(r, axis_rotation('yaw', math.pi / 2) @ rot, atol=1e-12)
    # wrist rotation turns about the tool's own approach axis, which stays put
    _, r = kin.target_pose(pos, rot, [0, 0, 0, 0, 0, 0, 0.3, 0])
    np.testing.assert_allclose(r[:, 2], rot[:, 2], atol=1e-12)


def test_ik_reaches_random_reachable_targets(arm):
    rng = np.random.default_rng(1)
    k = arm.kin
    for _ in range(40):
        q_true = arm.home_q + rng.uniform(-0.5, 0.5, size=6)
        q_true = np.clip(q_true, k.lower, k.upper)
        pos, rot = k.fk(q_true)
        q, pos_err, rot_err = k.ik(pos, rot, arm.home_q, iterations=200)
        assert pos_err < 1e-3 and rot_err < 1e-2
        assert np.all(q >= k.lower) and np.all(q <= k.upper)
        got_pos, got_rot = k.fk(q)
        np.testing.assert_allclose(got_pos, pos, atol=1e-3)


def test_ik_respects_joint_limits_even_when_it_cannot_reach(arm):
    k = arm.kin
    q, pos_err, _ = k.ik(np.array([3.0, 0.0, 0.5]), HOME_ROTATION, arm.home_q)
    assert pos_err > 0.5
    assert np.all(q >= k.lower) and np.all(q <= k.upper)


def test_plan_rejects_invalid_deltas(arm):
    q = arm.home_q
    for bad in ([math.nan] + [0] * 7, [0] * 7, [math.inf] * 8):
        result, waypoints = kin.plan_motion(arm.kin, q, bad, arm.cfg['workspace'],
                                            arm.cfg['control'], arm.cfg['robot']['joint_velocity'])
        assert result.status == Outcome.REJECTED and waypoints is None


def test_plan_respects_joint_speed_limits(arm):
    control = arm.cfg['control']
    limits = np.asarray(arm.cfg['robot']['joint_velocity'])
    for delta in ([0, 0, 0, 0, 0, math.pi / 2, 0, 0], [0, 0.2, 0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0, -math.pi / 2, 0]):
        result, waypoints = kin.plan_motion(arm.kin, arm.home_q, delta, arm.cfg['workspace'],
                                            control, limits)
        assert result.ok, result.message
        steps = np.abs(np.diff(np.vstack([arm.home_q, waypoints]), axis=0))
        assert np.all(steps <= limits * control['tick'] + 1e-9)

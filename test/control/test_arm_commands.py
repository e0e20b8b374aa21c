"""The bridge's planner moves the arm exactly as the simulator's own primitive execution does."""

import numpy as np
import pytest

from contrastive_vla.control.arm_commands import (
    JointMotionPlanner,
    limits_from_config,
)
from contrastive_vla.core.status import Outcome
from contrastive_vla.robot import kinematics as kin


@pytest.fixture(scope='module')
def env():
    from contrastive_vla.sim.env import TabletopEnv

    e = TabletopEnv(image_size=(32, 32))
    yield e
    e.close()


@pytest.fixture(scope='module')
def planner(env):
    limits = limits_from_config(env.cfg, {'max_step_translation': 0.2,
                                          'max_step_rotation': 0.8})
    return JointMotionPlanner(env.kin, limits, env.cfg['control'])


def test_plan_matches_the_simulator_and_respects_limits(env, planner, vocab):
    env.reset('reach_block', 0)
    q = env.joint_positions()[:6]
    left = vocab.from_phrase('move the arm to the left by five centimeters').delta_array()
    plan = planner.plan(q, left)
    assert plan.status == Outcome.DONE and plan.moves
    assert np.all(np.diff(plan.times) > 0)
    _, reference = kin.plan_motion(env.kin, q, left, env.cfg['workspace'], env.cfg['control'],
                                   env.cfg['robot']['joint_velocity'])
    np.testing.assert_allclose(plan.points, reference)
    start, _ = env.kin.fk(q)
    end, _ = env.kin.fk(plan.points[-1])
    np.testing.assert_allclose(end - start, [0, 0.05, 0], atol=2e-3)


def test_gripper_only_and_clamped_and_rejected(env, planner, vocab):
    env.reset('reach_block', 0)
    q = env.joint_positions()[:6]
    close = planner.plan(q, vocab.from_phrase('close the gripper').delta_array())
    assert close.status == Outcome.DONE and not close.moves and close.gripper == -1
    down = np.zeros(8)
    down[2] = -0.2
    for _ in range(3):  # walk down to the table: the box stops it
        plan = planner.plan(q, down)
        if plan.moves:
            q = plan.points[-1]
    assert plan.status == Outcome.CLAMPED
    assert env.kin.fk(q)[0][2] >= planner.limits.workspace_lower[2] - 2e-3
    nan = planner.plan(q, [np.nan] * 8)
    assert nan.status == Outcome.REJECTED and 'non-finite' in nan.message
    huge = np.zeros(8)
    huge[0] = 0.5
    assert 'exceeds the per-step limit' in planner.plan(q, huge).message
    bad_state = planner.plan([0.0] * 5, down)
    assert bad_state.status == Outcome.REJECTED and 'current joint state' in bad_state.message


def test_obstruction_rule():
    assert kin.obstruction(0.02, 0.0) and kin.obstruction(0.0, 0.1)
    assert not kin.obstruction(0.005, 0.01)

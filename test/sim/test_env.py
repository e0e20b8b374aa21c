import math

import numpy as np
import pytest

from contrastive_vla.core.status import Outcome
from contrastive_vla.evaluation.sim_eval import RandomPolicy
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.tasks import TaskError, Wording


def test_reset_is_deterministic_in_the_seed(env):
    a = env.reset('place_in_zone', 5)
    state_a = {c: b.position.copy() for c, b in env.scene_state().blocks.items()}
    b = env.reset('place_in_zone', 5)
    state_b = {c: b.position.copy() for c, b in env.scene_state().blocks.items()}
    assert a.instruction == b.instruction
    assert state_a.keys() == state_b.keys()
    for colour in state_a:
        np.testing.assert_allclose(state_a[colour], state_b[colour], atol=1e-9)
    np.testing.assert_array_equal(a.image, b.image)
    c = env.reset('place_in_zone', 6)
    assert c.instruction != a.instruction or not np.array_equal(c.image, a.image)


def test_observation_contents(env):
    obs = env.reset('reach_block', 0)
    assert obs.image.shape == (64, 64, 3) and obs.image.dtype == np.uint8
    assert obs.joint_names[:6] == ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint',
                                   'wrist_1_joint', 'wrist_2_joint', 'wrist_3_joint']
    assert len(obs.joint_positions) == 8
    np.testing.assert_allclose(obs.tcp_position, env.cfg['robot']['home_tcp'], atol=2e-3)
    assert env.spec.binding['block'] in obs.instruction


def test_primitives_move_the_tcp_by_their_delta(env):
    env.reset('reach_block', 1)
    for name, expected in (('left_5cm', [0, 0.05, 0]), ('down_10cm', [0, 0, -0.1]),
                           ('forward_1cm', [0.01, 0, 0]), ('backward_20cm', [-0.2, 0, 0])):
        before = env.tcp_pose()[0]
        result = env.step(name)
        assert result.status in (Outcome.DONE, Outcome.CLAMPED), result.message
        if result.status == Outcome.DONE:
            np.testing.assert_allclose(env.tcp_pose()[0] - before, expected, atol=0.004)


def test_rotation_primitive_keeps_the_tcp_in_place(env):
    env.reset('reach_block', 2)
    before_pos, before_rot = env.tcp_pose()
    assert env.step('yaw_left_45deg').status == Outcome.DONE
    pos, rot = env.tcp_pose()
    np.testing.assert_allclose(pos, before_pos, atol=0.004)
    angle = math.degrees(np.linalg.norm(kin.matrix_to_rotvec(rot @ before_rot.T)))
    assert angle == pytest.approx(45, abs=3)


def test_workspace_box_clamps_and_reports(env):
    env.reset('reach_block', 3)
    for _ in range(3):
        result = env.step('down_20cm')
    assert result.status == Outcome.CLAMPED or any(
        env.step('down_20cm').status == Outcome.CLAMPED for _ in range(2))
    assert env.tcp_pose()[0][2] >= env.cfg['workspace']['lower'][2] - 0.004
    assert 'workspace' in env.step('down_1cm').message


def test_invalid_and_unknown_actions_are_refused_without_motion(env):
    env.reset('reach_block', 4)
    q = env.joint_positions().copy()
    for action in ([math.nan] * 8, [0.0] * 5, 'do a backflip', 999):
        result = env.step(action)
        assert result.status == Outcome.REJECTED
    np.testing.assert_allclose(env.joint_positions(), q, atol=1e-6)


def test_unreachable_target_is_refused_without_motion():
    env = TabletopEnv(image_size=(32, 32))
    env.cfg['workspace']['upper'] = [3.0, 3.0, 3.0]  # let the box allow what IK cannot do
    env.reset('reach_block', 0)
    q = env.joint_positions().copy()
    result = env.step([2.0, 0, 0, 0, 0, 0, 0, 0])
    assert result.status == Outcome.UNREACHABLE and 'IK' in result.message
    np.testing.assert_allclose(env.joint_positions(), q, atol=1e-4)
    env.close()


def test_random_primitives_never_exceed_joint_limits_or_go_through_the_table(env):
    lower = np.asarray(env.cfg['robot']['joint_lower'])
    upper = np.asarray(env.cfg['robot']['joint_upper'])
    pads = [env.model.geom('left_pad').id, env.model.geom('right_pad').id]
    worst = {'joint': 0.0, 'pad_z': 1.0}

    def check(e):
        q = e.data.qpos[e.kin.qpos_index]
        worst['joint'] = max(worst['joint'], float(np.max(lower - q)), float(np.max(q - upper)))
        for pad in pads:
            # lowest corner of the pad box
            half = e.model.geom_size[pad]
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1)
                                for sz in (-1, 1)]) * half
            world = e.data.geom_xpos[pad] + corners @ e.data.geom_xmat[pad].reshape(3, 3).T
            worst['pad_z'] = min(worst['pad_z'], float(world[:, 2].min()))

    policy = RandomPolicy()
    env.frame_callback = check
    try:
        for seed in range(3):
            env.reset('lift_block', seed)
            policy.reset(env.spec, seed=seed)
            for _ in range(40):
                env.step(policy.act(None))
    finally:
        env.frame_callback = None
    assert worst['joint'] <= 1e-6
    assert worst['pad_z'] > -0.003  # contact softness only; never through the table


def test_gripper_grasps_by_friction(env):
    env.reset('lift_block', 0)
    from contrastive_vla.sim.expert import ScriptedExpert

    expert = ScriptedExpert()
    expert.attach(env)
    expert.reset(env.spec, seed=0)
    for _ in range(35):
        if env.step(expert.act()).success:
            break
    colour = env.spec.binding['block']
    state = env.scene_state()
    assert state.grasped(colour)
    assert state.blocks[colour].position[2] > 0.09
    # no weld: open the gripper and the block falls back to the table
    env.step('open_gripper')
    env.advance(25)
    assert env.scene_state().blocks[colour].position[2] < 0.03


def test_colour_words_change_the_words_not_the_scene(env):
    synonyms = {'red': ['crimson'], 'green': ['emerald'], 'blue': ['azure'],
                'yellow': ['lemon'], 'purple': ['violet'], 'orange': ['tangerine']}
    for seed in range(3):
        plain = env.sample_episode('stack_blocks', seed)[0]
        said = env.sample_episode('stack_blocks', seed,
                                  Wording(env.tasks['stack_blocks'].templates, synonyms))[0]
        assert (said.binding, said.block_colours, said.zone_colours) == \
            (plain.binding, plain.block_colours, plain.zone_colours)
        expected = plain.instruction
        for colour in (plain.binding['block'], plain.binding['base']):
            expected = expected.replace(colour, synonyms[colour][0])
        assert said.instruction == expected
    with pytest.raises(TaskError, match='not scene colours'):
        env.sample_episode('reach_block', 0, Wording(('go to {block}',), {'pink': ['rose']}))


@pytest.mark.parametrize('seed', [-1, 2 ** 63, 1.5, 'seven', True])
def test_impossible_seeds_are_rejected(env, seed):
    with pytest.raises(ValueError, match='seed'):
        env.reset('reach_block', seed)


def test_unknown_task_is_rejected(env):
    with pytest.raises(TaskError, match='unknown task id'):
        env.reset('juggle', 0)


def test_step_before_reset_is_an_error():
    env = TabletopEnv(image_size=(32, 32))
    with pytest.raises(RuntimeError, match='reset'):
        env.step('left_5cm')
    env.close()

"""robot/urdf.py and robot/arms.py: any arm from its vendor URDF (../shared/fixtures/urdf)."""

from pathlib import Path

import numpy as np
import pytest

from contrastive_vla.robot.arms import load_arm
from contrastive_vla.robot.kinematics import matrix_to_rotvec
from contrastive_vla.robot.urdf import UrdfError, load_urdf, urdf_kinematics

URDF_DIR = Path(__file__).resolve().parents[3] / 'shared' / 'fixtures' / 'urdf'


def vendor(name):
    path = URDF_DIR / f'{name}.urdf'
    if not path.is_file():
        pytest.skip(f'vendor URDF {path} is not there (shared fixtures absent)')
    return str(path)


def test_the_simulators_ur5e_has_the_vendor_urdfs_kinematics(arm):
    # the simulator's world frame is UR's base_link (base is a half turn about z away), its
    # TCP 0.16 m out of tool0 along the flange's z
    urdf = urdf_kinematics(load_urdf(vendor('ur5e'), 'base_link', 'tool0',
                                     tcp_offset=(0, 0, 0.16)))
    rng = np.random.default_rng(0)
    worst_pos = worst_rot = 0.0
    for _ in range(300):
        q = rng.uniform(-np.pi, np.pi, 6)
        p_sim, r_sim = arm.kin.fk(q)
        p_urdf, r_urdf = urdf.fk(q)
        worst_pos = max(worst_pos, float(np.linalg.norm(p_sim - p_urdf)))
        worst_rot = max(worst_rot, float(np.linalg.norm(matrix_to_rotvec(r_sim @ r_urdf.T))))
    assert worst_pos < 1e-5 and worst_rot < 1e-4, (worst_pos, worst_rot)


def test_ur_base_and_base_link_are_a_half_turn_apart():
    q = [0.0, -1.9, 1.9, -1.571, -1.571, 0.0]
    in_base_link, _ = urdf_kinematics(load_urdf(vendor('ur5e'), 'base_link', 'tool0')).fk(q)
    in_base, _ = urdf_kinematics(load_urdf(vendor('ur5e'), 'base', 'tool0')).fk(q)
    assert in_base_link[0] > 0.2  # "forward" of base_link: where the arm reaches at pan 0
    np.testing.assert_allclose(in_base, in_base_link * [-1, -1, 1], atol=1e-9)


def test_joints_and_limits_come_from_the_urdf():
    arm = load_urdf(vendor('fr3'), 'base', 'fr3_hand_tcp')
    assert arm.joint_names == [f'fr3_joint{i}' for i in range(1, 8)]  # not the fingers
    assert arm.lower[3] == pytest.approx(-3.0421) and arm.upper[3] == pytest.approx(-0.1518)
    assert arm.velocity[4] == pytest.approx(5.26)


def test_a_missing_tool_frame_is_one_clear_error():
    with pytest.raises(UrdfError, match="tool_frame 'gripper_tip' is not a link"):
        load_urdf(vendor('ur5e'), 'base_link', 'gripper_tip')


def test_a_base_frame_that_moves_is_refused():
    with pytest.raises(UrdfError, match='moves with joint'):
        load_urdf(vendor('fr3'), 'fr3_link3', 'fr3_hand_tcp')


def test_a_joint_without_limits_is_an_error_unless_a_joint_limits_yaml_gives_them(tmp_path):
    text = Path(vendor('ur5e')).read_text()
    # the elbow becomes continuous: no position limits
    text = text.replace('<joint name="elbow_joint" type="revolute">',
                        '<joint name="elbow_joint" type="continuous">')
    urdf = tmp_path / 'ur5e_continuous.urdf'
    urdf.write_text(text)
    with pytest.raises(UrdfError, match="joint 'elbow_joint' .*has no position limits"):
        load_urdf(str(urdf), 'base_link', 'tool0')
    limits = tmp_path / 'joint_limits.yaml'
    limits.write_text('joint_limits:\n'
                      '  elbow_joint: {has_position_limits: true, min_position: -2.5, '
                      'max_position: 2.5}\n'
                      '  shoulder_pan_joint: {has_position_limits: true, min_position: -9.0, '
                      'max_position: 1.0, has_velocity_limits: true, max_velocity: 1.0}\n')
    arm = load_urdf(str(urdf), 'base_link', 'tool0', joint_limits=str(limits))
    assert (arm.lower[2], arm.upper[2]) == (-2.5, 2.5)
    # the tighter of URDF and YAML, never the wider
    assert arm.lower[0] == pytest.approx(-2 * np.pi) and arm.upper[0] == 1.0
    assert arm.velocity[0] == 1.0


def test_a_revolute_joint_without_a_limit_element_is_an_error(tmp_path):
    text = Path(vendor('fr3')).read_text().replace(
        '<limit effort="12.0" lower="-3.0159" upper="3.0159" velocity="5.26"/>', '')
    urdf = tmp_path / 'fr3.urdf'
    urdf.write_text(text)
    with pytest.raises(UrdfError, match="joint 'fr3_joint7' .*no position or velocity limits"):
        load_urdf(str(urdf), 'base', 'fr3_hand_tcp')


def test_redundant_ik_stays_near_the_current_configuration_and_inside_the_limits():
    arm = load_arm('fr3', vendor('fr3'))
    k = arm.kinematics
    home = np.asarray(arm.cfg['robot']['home_joints'])
    pos, rot = k.fk(home)
    rng = np.random.default_rng(1)
    for _ in range(20):
        target = pos + rng.uniform(-0.05, 0.05, 3)
        q, pos_err, rot_err = k.ik(target, rot, home)
        assert pos_err < 1e-3 and rot_err < 1e-2
        assert np.all(q >= k.lower) and np.all(q <= k.upper)
        # a 5 cm move: the posture (elbow, redundant angle) stays where it was
        assert np.max(np.abs(q - home)) < 0.35, np.round(q - home, 3)
    # without the null-space term the same IK drifts further from the seed
    drift = {}
    for gain in (0.0, 0.5):
        k.nullspace_gain = gain
        q = home.copy()
        for step in range(40):  # a long walk of small moves, back and forth
            target = pos + 0.08 * np.array([np.sin(step), np.cos(step), 0.5 * np.sin(2 * step)])
            q, _, _ = k.ik(target, rot, q)
        q, _, _ = k.ik(pos, rot, q)
        drift[gain] = float(np.linalg.norm(q - home))
    assert drift[0.5] < drift[0.0], drift


@pytest.mark.parametrize('name', ['ur5e', 'fr3'])
def test_packaged_arm_configs_home_inside_their_workspace(name):
    arm = load_arm(name, vendor(name))
    home = np.asarray(arm.cfg['robot']['home_joints'])
    tcp, rot = arm.kinematics.fk(home)
    box = arm.cfg['workspace']
    assert np.all(tcp >= box['lower']) and np.all(tcp <= box['upper']), tcp
    assert rot[2, 2] < -0.99  # the tool points down at home


def test_a_urdf_arm_config_without_a_description_says_where_to_get_one():
    with pytest.raises(UrdfError, match='robot_description'):
        load_arm('fr3', None)


def test_the_teleop_state_of_a_urdf_arm_is_its_joints_then_the_gripper():
    from contrastive_vla.robot.arms import arm_state_names

    assert arm_state_names('fr3', vendor('fr3')) == [f'fr3_joint{i}' for i in range(1, 8)] + [
        'fr3_finger_joint1', 'fr3_finger_joint2']
    assert arm_state_names('fr3', None) is None  # then: the joints the driver publishes
    assert arm_state_names('')[:1] == ['shoulder_pan_joint']  # the simulator's UR5e


def _tiny_urdf(joints, velocity='1.0'):
    """A two-joint arm a -> b -> c, plus ``joints`` (extra XML)."""
    return ('<robot name="tiny"><link name="a"/><link name="b"/><link name="c"/>'
            '<joint name="j1" type="revolute"><parent link="a"/><child link="b"/>'
            f'<axis xyz="0 0 1"/><limit lower="-1" upper="1" velocity="{velocity}"/></joint>'
            '<joint name="j2" type="revolute"><parent link="b"/><child link="c"/>'
            '<origin xyz="0.3 0 0"/><axis xyz="0 1 0"/>'
            f'<limit lower="-1" upper="1" velocity="{velocity}"/></joint>{joints}</robot>')


def test_a_description_text_with_a_byte_order_mark_still_reads():
    arm = load_urdf('\ufeff' + _tiny_urdf(''), 'a', 'c')
    assert arm.joint_names == ['j1', 'j2']


def test_joints_in_a_loop_are_one_clear_error_not_a_hang():
    loop = ('<joint name="back" type="fixed"><parent link="c"/><child link="a"/></joint>')
    with pytest.raises(UrdfError, match='loop'):
        load_urdf(_tiny_urdf(loop), 'a', 'c')


def test_a_non_positive_velocity_in_a_joint_limits_yaml_is_refused(tmp_path):
    limits = tmp_path / 'joint_limits.yaml'
    limits.write_text('joint_limits:\n  j1: {has_velocity_limits: true, max_velocity: -1.0}\n')
    with pytest.raises(UrdfError, match="j1' max_velocity must be > 0"):
        load_urdf(_tiny_urdf(''), 'a', 'c', joint_limits=str(limits))

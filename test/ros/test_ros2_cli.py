"""ROS 2's own tools on the package, as a robot's user runs them: ``ros2 pkg executables``,
``ros2 launch ... --show-args``, the robot profile on a video file (dry run, no arm), the
replay profile on a bag, ``ros2 run`` with parameters and remaps, and every ``ros2`` command
that README.md shows in its code blocks. (The sim graph: test_ros2_launch_sim.py.)"""

import json
from pathlib import Path
import re
import shlex
import time

import numpy as np
import pytest

from contrastive_vla.core.topics import load_topics
from contrastive_vla.ros import qos
from contrastive_vla.ros.graph import PROFILES
from contrastive_vla.ros.node_parameters import NODES

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# see test_ros2_launch_sim.PUB: --once alone may end before a slow subscriber matched
PUB = ('topic', 'pub', '--once', '--keep-alive', '2')

# README command (sub-command, what it acts on) -> the test that runs it
EXERCISED = {
    ('launch', 'sim.launch.py'): 'test_ros2_node_list_shows_the_launched_graph',
    ('launch', 'robot.launch.py'): 'test_robot_launch_dry_run_on_a_video_file_without_an_arm',
    ('launch', 'replay.launch.py'): 'test_replay_launch_plays_a_bag_and_the_vla_decides',
    ('run', 'vla_node'): 'test_ros2_run_a_node_with_parameters_and_remaps',
    ('topic', 'pub'): 'test_an_instruction_from_ros2_topic_pub_makes_the_vla_decide',
    ('topic', 'echo'): 'test_an_instruction_from_ros2_topic_pub_makes_the_vla_decide',
    ('node', 'list'): 'test_ros2_node_list_shows_the_launched_graph',
    ('param', 'get'): 'test_ros2_param_get_and_describe_show_value_and_declaration',
    ('param', 'describe'): 'test_ros2_param_get_and_describe_show_value_and_declaration',
    ('param', 'set'): 'test_ros2_param_set_min_confidence_is_refused_or_takes_effect',
    ('pkg', 'executables'): 'test_ros2_pkg_executables_lists_every_node_executable',
    ('lifecycle', 'get'): 'test_robot_launch_dry_run_on_a_video_file_without_an_arm',
    ('lifecycle', 'set'): 'test_robot_launch_dry_run_on_a_video_file_without_an_arm',
}


def _json(msg):
    return json.loads(msg.data)


@pytest.fixture(scope='module')
def ros2(ros2_cli):
    """For commands that need no graph of their own."""
    with ros2_cli.session('ros2_cli') as ros2:
        yield ros2


@pytest.fixture
def graph(ros2_cli):
    """A domain and probe of the test's own: a subscription left by another test would count
    as a listener (the player starts playing once image_raw has one)."""
    with ros2_cli.session('ros2_graph') as ros2:
        yield ros2


def _since(probe, topic, since):
    return [m for t, m in probe.stamped(topic) if t > since]


def test_ros2_pkg_executables_lists_every_node_executable(ros2):
    listed = set(ros2.run('pkg', 'executables', 'contrastive_vla').stdout.splitlines())
    wanted = {spec.executable for profile in PROFILES.values() for spec in profile.nodes}
    assert {f'contrastive_vla {name}' for name in wanted | {'contrastive-vla'}} <= listed


@pytest.mark.parametrize('profile', sorted(PROFILES))
def test_show_args_lists_every_launch_argument_with_its_description(ros2, profile):
    shown = ros2.run('launch', 'contrastive_vla', f'{profile}.launch.py', '--show-args').stdout
    flat = ' '.join(shown.split())
    for argument in PROFILES[profile].arguments:
        assert f"'{argument.name}':" in shown, (argument.name, shown)
        assert ' '.join(argument.description.split()) in flat, (argument.name, shown)


def _write_video(path, frames=20, size=64):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (size, size))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    writer.release()
    return path


def test_robot_launch_dry_run_on_a_video_file_without_an_arm(graph, tiny_model, tmp_path):
    """README "Run on a real robot" with a video file for the camera and no arm: the bridge
    refuses to plan without joint_states; with them (published here, as a robot's
    joint_state_broadcaster would) it reports dry_run outcomes and sends the arm nothing."""
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray, String
    from trajectory_msgs.msg import JointTrajectory

    from contrastive_vla.robot.description import load_arm_config

    probe = graph.probe
    probe.record('primitive_status', String, qos.command(), _json)
    probe.record('vla_status', String, 10, _json)
    probe.record('image_raw', Image, qos.sensor(), lambda m: (m.width, m.height))
    probe.record('joint_trajectory', JointTrajectory, qos.command())
    probe.record('gripper_command', Float64MultiArray, qos.command())
    video = _write_video(tmp_path / 'camera.avi')
    start = time.monotonic()
    with graph.launch('robot.launch.py', f'camera_source:={video}', 'enable_actuation:=false',
                     f'model:={tiny_model}') as launch:
        graph.wait_for(lambda: _since(probe, 'image_raw', start)
                      and _since(probe, 'vla_status', start), 120,
                      'camera frames from the video file and vla_status')
        assert _since(probe, 'image_raw', start)[-1] == (64, 64)
        launch.wait_for_log(r'dry run \(actuation off\)', 10)
        if 'ros2 lifecycle set /arm_bridge activate' in launch.log():
            # the bridge waits inactive for the operator, and says how to go on
            assert graph.on_node('lifecycle', 'get', '/arm_bridge').stdout.startswith('inactive')
            graph.on_node('lifecycle', 'set', '/arm_bridge', 'activate')
            assert graph.on_node('lifecycle', 'get', '/arm_bridge').stdout.startswith('active')
        said = time.monotonic()
        graph.run(*PUB, '/instruction', 'std_msgs/msg/String', "data: 'pick up the red block'")

        def refused_without_arm():
            return [s for s in _since(probe, 'primitive_status', said)
                    if s['status'] == 'refused' and 'joint_states' in s['message']]
        graph.wait_for(refused_without_arm, 60, 'a refusal for want of joint_states')

        arm = load_arm_config()['robot']
        joints = JointState(name=list(arm['joint_names']),
                            position=[float(q) for q in arm['home_joints']])
        publisher = probe.publisher('joint_states', JointState, 10)

        def publish_joint_states():
            joints.header.stamp = probe.node.get_clock().now().to_msg()
            publisher.publish(joints)
        timer = probe.node.create_timer(0.02, publish_joint_states)
        try:
            graph.wait_for(lambda: [s for s in _since(probe, 'primitive_status', said)
                                   if s['status'] == 'dry_run'], 60, 'a dry_run outcome')
        finally:
            probe.node.destroy_timer(timer)
        assert not _since(probe, 'joint_trajectory', start)
        assert not _since(probe, 'gripper_command', start)
        nodes = {'/camera', '/instruction_listener', '/vla', '/arm_bridge'}
        listed = graph.node_list(nodes)
        assert nodes <= listed, listed


def test_replay_launch_plays_a_bag_and_the_vla_decides(graph, tiny_model, tmp_path):
    from std_msgs.msg import String

    from contrastive_vla.data.demos import collect

    bags = tmp_path / 'bags'
    collect(['reach_block'], 1, bags, seed=11, workers=1, image_size=(64, 64), progress=False,
            augment=False)
    probe = graph.probe
    probe.record('primitive_topk', String, 10, _json)
    probe.record('replay_status', String, qos.latched(), _json)
    start = time.monotonic()
    with graph.launch('replay.launch.py', f'bag:={bags}', f'model:={tiny_model}'):
        graph.wait_for(lambda: [m for m in _since(probe, 'replay_status', start)
                               if m.get('event') == 'end'], 120, 'the end of the replay')
        acted = [m for m in _since(probe, 'primitive_topk', start) if m['acted']]
        assert acted, 'the VLA node decided on none of the played frames'
        assert all(isinstance(m['image_stamp_ns'], int) for m in acted)


def test_ros2_run_a_node_with_parameters_and_remaps(graph, tiny_model):
    """README: ros2 run contrastive_vla vla_node --ros-args -p model:=... -r image_raw:=..."""
    probe = graph.probe
    node = graph.start('run', 'contrastive_vla', 'vla_node', '--ros-args', '-p',
                      f'model:={tiny_model}', '-r', 'image_raw:=/camera/color/image_raw')

    def subscriptions():
        try:
            return {name for name, _ in
                    probe.node.get_subscriber_names_and_types_by_node('vla', '/')}
        except Exception:  # rclpy: NodeNameNonExistentError until the node is up
            return set()
    try:
        graph.wait_for(lambda: '/camera/color/image_raw' in subscriptions(), 120,
                      'the vla node subscribed to the remapped camera topic')
        assert '/image_raw' not in subscriptions()
        assert '/vla' in graph.node_list({'/vla'})  # the CLI's daemon knows it: param get can
        got = graph.on_node('param', 'get', '/vla', 'model').stdout
        assert got.strip() == f'String value is: {tiny_model}', got
    finally:
        stopped = node.stop()
    assert not stopped.leftover, stopped.leftover


def readme_ros2_commands():
    """Every ``ros2 ...`` command in README.md's code blocks, as argv (comments cut off)."""
    text = (REPO / 'README.md').read_text()
    commands = []
    for block in re.findall(r'^```[\w-]*\n(.*?)^```', text, re.M | re.S):
        for line in block.splitlines():
            # a command starts its line or follows 'or:' in a comment ('no ros2 launch
            # needed' is prose)
            match = re.search(r'(?:^\s*|\bor:\s+)ros2 (.*)', line)
            if match:
                command = re.split(r'\s+#', match.group(1))[0].strip().rstrip(')')
                commands.append(['ros2', *shlex.split(command)])
    return commands


def _key(argv):
    sub = argv[1]
    if sub in ('launch', 'run'):  # ros2 launch|run PACKAGE WHAT
        return sub, argv[3]
    return sub, argv[2]


def test_every_ros2_command_in_the_readme_is_exercised(ros2):
    commands = readme_ros2_commands()
    assert len(commands) >= 5, commands
    sources = '\n'.join(p.read_text() for p in HERE.glob('test_ros2_*.py'))
    for argv in commands:
        key = _key(argv)
        assert key in EXERCISED, f'no test runs {" ".join(argv)}; add one to EXERCISED'
        assert f'def {EXERCISED[key]}(' in sources, EXERCISED[key]
    # and they make sense: arguments the launch file declares, executables the package has,
    # topics and types the graph uses
    shown = {}
    executables = ros2.run('pkg', 'executables', 'contrastive_vla').stdout.split()
    topics = {'/' + t.name.lstrip('/'): t.type for t in load_topics().values()}
    for argv in commands:
        if argv[1] == 'launch':
            if argv[3] not in shown:
                shown[argv[3]] = ros2.run(*argv[1:4], '--show-args').stdout
            for token in argv[4:]:
                name = token.split(':=')[0]
                assert token == '--show-args' or f"'{name}':" in shown[argv[3]], (argv, name)
        elif argv[1] == 'run':
            assert argv[3] in executables, argv
            spec = next(s for p in PROFILES.values() for s in p.nodes
                        if s.executable == argv[3])
            declared = {p.name for p in NODES[spec.name]}
            for flag, value in zip(argv, argv[1:]):
                if flag == '-p':
                    assert value.split(':=')[0] in declared, (argv, value)
        elif argv[1:3] == ['topic', 'pub']:
            name, msg_type = [a for a in argv[3:] if not a.startswith('-')][:2]
            assert topics.get(name) == msg_type, (argv, topics.get(name))

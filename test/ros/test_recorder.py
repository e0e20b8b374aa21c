"""contrastive-vla record on a live graph: the latched instruction and every camera frame."""

import subprocess
import sys

import pytest

from contrastive_vla.bag import open_bag
from contrastive_vla.core.msgfields import stamp_to_ns
from contrastive_vla.ros import qos

pytestmark = pytest.mark.ros


def test_records_latched_instruction_and_camera_without_drops(ros_graph, tmp_path):
    from std_msgs.msg import String

    graph, probe = ros_graph
    graph.start_camera((224, 224), [40 * i for i in range(5)], rate=30.0)
    graph.start('instruction', name='instruction_listener')
    say = probe.publisher('instruction', String, qos.command())
    probe.wait_for(lambda: probe.node.count_subscribers('instruction') >= 1, 30, graph,
                   'the listener')
    probe.wait_for(lambda: probe.node.count_publishers('image_raw') >= 1, 30, graph,
                   'the camera')
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    probe.record('image_raw', Image, QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=500, reliability=ReliabilityPolicy.RELIABLE),
        lambda m: stamp_to_ns(m.header.stamp))
    say.publish(String(data='put the red block in the green zone'))  # before recording
    bag = tmp_path / 'bag'
    run = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'record', '--topics',
                          'image_raw', 'active_instruction', 'camera_info', '--duration', '4',
                          '--out', str(bag)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    with open_bag(bag) as reader:
        assert set(reader.topics) == {'/image_raw', '/active_instruction', '/camera_info'}
        instructions = [m.msg.data for m in reader.messages(['/active_instruction'])]
        stamps = [stamp_to_ns(m.msg.header.stamp) for m in reader.messages(['/image_raw'])]
    assert instructions == ['put the red block in the green zone']
    assert len(stamps) > 60
    # every frame the camera published while the recording ran (as a reliable probe saw
    # them) is in the bag
    published = [t for t in probe.messages('image_raw') if stamps[0] <= t <= stamps[-1]]
    missing = sorted(set(published) - set(stamps))
    assert not missing, (f'{len(missing)} of {len(published)} frame(s) dropped: at '
                         f'{[published.index(t) for t in missing]}; {run.stdout}')


def test_hard_killed_recorder_loses_at_most_the_last_second(ros_graph, tmp_path):
    import signal
    import time

    from std_msgs.msg import String

    graph, probe = ros_graph
    graph.start_camera((224, 224), [90], rate=30.0)
    graph.start('instruction', name='instruction_listener')
    say = probe.publisher('instruction', String, qos.command())
    probe.wait_for(lambda: probe.node.count_subscribers('instruction') >= 1, 30, graph,
                   'the listener')
    say.publish(String(data='lift the blue block'))
    bag = tmp_path / 'bag'
    command = [sys.executable, '-m', 'contrastive_vla.cli', 'record', '--topics', 'image_raw',
               'active_instruction', '--out', str(bag)]
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    try:
        probe.wait_for(lambda: probe.node.count_subscribers('image_raw') >= 1, 60, graph,
                       'the recorder')
        time.sleep(4.0)
    finally:
        recorder.send_signal(signal.SIGKILL)
        recorder.communicate(timeout=30)
    assert not bag.exists()
    run = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'record', '--recover',
                          '--out', str(bag)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    with open_bag(bag) as reader:
        instructions = [m.msg.data for m in reader.messages(['/active_instruction'])]
        frames_kept = reader.topics['/image_raw'].count
    assert instructions == ['lift the blue block']
    assert frames_kept >= 30 * 2  # >= 4 s of recording minus at most ~1 s unflushed, at 30 Hz

"""Frame time in the VLA node: a frame stamped an hour ahead is never acted on (and does not
block the correctly stamped frames after it), and a camera whose clock is 1 s behind the node's
is said on /diagnostics (WARN, with the offset) and in vla_status, not only as a robot that
never moves.

The real VLANode class with a tiny model, built in this process on a private ROS domain and
driven by calling its callbacks, as in test_param_set.
"""

import os
import time

import numpy as np
import pytest

from contrastive_vla.control.decision import FUTURE_IMAGE, STALE_IMAGE

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from contrastive_vla.ros import messages  # noqa: E402

pytestmark = pytest.mark.ros

INSTRUCTION = 'reach the red block'
DOMAIN = 40 + os.getpid() % 20


class Recorder:
    """Stands in for a publisher: keeps what the node publishes."""

    def __init__(self):
        self.sent = []

    def publish(self, msg):
        self.sent.append(msg)


@pytest.fixture
def vla(tiny_model):
    from contrastive_vla.ros.nodes.vla import VLANode

    rclpy.init(args=['test', '--ros-args', '-p', f'model:={tiny_model}'], domain_id=DOMAIN)
    node = VLANode()
    node.status_pub, node.diag_pub = Recorder(), Recorder()
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def frame(node, offset=0.0):
    """A camera frame stamped ``offset`` s after the node's now (negative: in the past)."""
    stamp = node.get_clock().now().nanoseconds * 1e-9 + offset
    node.on_image(messages.image(np.full((64, 64, 3), 90, np.uint8),
                                 messages.time_msg(stamp), 'cam'))
    return stamp


def test_a_frame_stamped_an_hour_ahead_is_never_acted_on(vla):
    vla.on_instruction(String(data=INSTRUCTION))
    time.sleep(0.01)
    frame(vla, offset=3600.0)
    for _ in range(5):
        vla.tick()
        vla.gate.pending = None  # as if the bridge had answered whatever was sent
        time.sleep(0.01)
    assert vla.decision_id == 0 and vla.reason == FUTURE_IMAGE
    vla.report()
    status = messages.parse_json(vla.status_pub.sent[-1])
    assert status['future_frames'] == 1 and status['decisions'] == 0
    # the next, correctly stamped frame is decided on: the future one set no bar
    frame(vla)
    vla.tick()
    assert vla.decision_id == 1


def test_a_camera_one_second_behind_warns_with_the_offset(vla):
    vla.on_instruction(String(data=INSTRUCTION))
    for _ in range(10):
        frame(vla, offset=-1.0)
        vla.tick()
    assert vla.decision_id == 0 and vla.reason == STALE_IMAGE
    vla.report()
    status = messages.parse_json(vla.status_pub.sent[-1])
    assert status['clock_offset_s'] == pytest.approx(1.0, abs=0.05)
    diag = vla.diag_pub.sent[-1].status[0]
    assert diag.level == DiagnosticStatus.WARN
    assert diag.message.startswith('camera clock 1.0 s behind this node: every frame is stale; '
                                   'check time sync (chrony/PTP) or use_sim_time')
    values = {kv.key: kv.value for kv in diag.values}
    assert float(values['clock_offset_s']) == pytest.approx(1.0, abs=0.05)


def test_a_synchronised_camera_reports_a_small_offset_and_no_warning(vla):
    vla.on_instruction(String(data=INSTRUCTION))
    time.sleep(0.01)
    frame(vla)
    vla.tick()
    assert vla.decision_id == 1
    vla.report()
    status = messages.parse_json(vla.status_pub.sent[-1])
    assert abs(status['clock_offset_s']) < 0.05 and status['future_frames'] == 0
    assert vla.diag_pub.sent[-1].status[0].level == DiagnosticStatus.OK

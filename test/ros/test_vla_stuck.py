"""The VLA node notices that it is stuck: a policy that thrashes up/down makes it stop deciding,
report ``stuck`` on vla_status and an ERROR on /diagnostics with the reason, until a new
instruction. The real VLANode with a tiny model, in this process, its callbacks called as the
executor would (the policy's scores replaced by a thrashing pattern)."""

import json

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from contrastive_vla.ros import messages  # noqa: E402

pytestmark = pytest.mark.ros

INSTRUCTION = 'reach the blue block'


@pytest.fixture
def thrashing_vla(start_node, tiny_model):
    """start(*params): the VLA node, deciding up 10 cm, down 10 cm, up, ..."""
    from contrastive_vla.ros.nodes.vla import VLANode

    def start(*params):
        node = start_node(VLANode, '-p', f'model:={tiny_model}', '-p', 'threads:=1', *params)
        vocab = node.policy.vocab
        turn = iter(range(10 ** 6))

        def scores(image, instruction, state):
            best = vocab['up_10cm' if next(turn) % 2 == 0 else 'down_10cm'].index
            return np.eye(len(vocab), dtype=np.float32)[best] * 10.0

        node.policy.scores = scores
        node.published = {'status': [], 'diagnostics': []}
        node.status_pub.publish = node.published['status'].append
        node.diag_pub.publish = node.published['diagnostics'].append
        node.on_instruction(String(data=INSTRUCTION))
        return node

    return start


def step(node, outcome='done'):
    """A fresh frame, a tick, and the bridge's outcome of the decision: True if decided."""
    before = node.decision_id
    stamp_ns = node.get_clock().now().nanoseconds
    node.on_image(messages.image(np.full((64, 64, 3), 90, np.uint8),
                                 messages.time_msg(stamp_ns * 1e-9), 'cam'))
    node.tick()
    if node.decision_id == before:
        return False
    node.on_status(messages.json_string({'decision': node.decision_id, 'status': outcome}))
    return True


def reported(node):
    node.report()
    status = json.loads(node.published['status'][-1].data)
    diag = node.published['diagnostics'][-1].status[0]
    return status, diag


def test_thrashing_makes_the_node_stuck_until_a_new_instruction(thrashing_vla):
    node = thrashing_vla()
    decided = [step(node) for _ in range(8)]
    assert all(decided)
    status, diag = reported(node)
    assert status['state'] == 'stuck' and 'up_10cm/down_10cm' in status['stuck']
    assert diag.level == DiagnosticStatus.ERROR
    assert diag.message.startswith('stuck: ') and 'new instruction' in diag.message
    # no more decisions, however many frames come
    for _ in range(5):
        assert not step(node)
    assert node.decision_id == 8
    # a new instruction (the same words again too) resets it: deciding resumes
    node.on_instruction(String(data=INSTRUCTION))
    assert step(node)
    status, diag = reported(node)
    assert status['state'] != 'stuck' and status['stuck'] is None
    assert diag.level != DiagnosticStatus.ERROR


def test_only_motion_counts(thrashing_vla):
    node = thrashing_vla()
    # the bridge did not move the arm (dry run, refused, unreachable): no motion, not stuck
    for outcome in ('dry_run', 'refused', 'unreachable'):
        assert all(step(node, outcome) for _ in range(10))
    assert reported(node)[0]['stuck'] is None


def test_detection_can_be_switched_off(thrashing_vla):
    node = thrashing_vla('-p', 'stuck_detection:=false')
    assert all(step(node) for _ in range(12))
    status, diag = reported(node)
    assert status['state'] != 'stuck' and status['stuck'] is None
    assert node.get_parameter('stuck_detection').value is False


def test_inconsistent_stuck_limits_fail_in_one_line(start_node, tiny_model):
    from contrastive_vla.ros.nodes.vla import VLANode
    from contrastive_vla.ros.runtime import NodeStartupError

    with pytest.raises(NodeStartupError, match='min_progress < min_path'):
        start_node(VLANode, '-p', f'model:={tiny_model}', '-p', 'stuck_min_progress:=0.5',
                   '-p', 'stuck_min_path:=0.4')

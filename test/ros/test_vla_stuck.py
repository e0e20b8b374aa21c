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
    """start(*params): the VLA node, deciding up 10 cm, down 10 cm, up, ... (loop breaking
    off unless a parameter turns it on: it would end the cycle, test_vla_loops.py)"""
    from contrastive_vla.ros.nodes.vla import VLANode

    def start(*params):
        node = start_node(VLANode, '-p', f'model:={tiny_model}', '-p', 'threads:=1',
                          '-p', 'loop_breaking:=false', *params)
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


def step(node, outcome='done', message=''):
    """A fresh frame, a tick, and the bridge's outcome of the decision (with its message):
    True if decided."""
    before = node.decision_id
    stamp_ns = node.get_clock().now().nanoseconds
    node.on_image(messages.image(np.full((64, 64, 3), 90, np.uint8),
                                 messages.time_msg(stamp_ns * 1e-9), 'cam'))
    node.tick()
    if node.decision_id == before:
        return False
    node.on_status(messages.json_string({'decision': node.decision_id, 'status': outcome,
                                         'message': message}))
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
    # the bridge tried nothing (dry run, refused, rejected): no motion, not stuck
    for outcome in ('dry_run', 'refused', 'rejected'):
        assert all(step(node, outcome) for _ in range(10))
    assert reported(node)[0]['stuck'] is None


@pytest.mark.parametrize('outcome, message, reason', [
    ('clamped', 'already at the workspace boundary: target [0.5, 0.1, 0.0] is outside the '
     'workspace box; stopping at [0.5, 0.1, 0.02]', 'pushing against the workspace boundary'),
    ('unreachable', 'IK cannot reach the target within the joint limits', 'unreachable')])
def test_decisions_that_do_not_move_the_arm_make_it_stuck(thrashing_vla, outcome, message,
                                                         reason):
    # the outcomes the bridge reports on primitive_status, message included (as eval-sim
    # feeds the simulator's): stuck_window (8) in a row that left the arm where it was
    node = thrashing_vla('-p', 'stuck_cycles:=0', '-p', 'stuck_min_path:=10.0')
    assert all(step(node, outcome, message) for _ in range(7))
    assert reported(node)[0]['stuck'] is None
    assert step(node, outcome, message)
    status, diag = reported(node)
    assert status['state'] == 'stuck' and status['stuck'].startswith(reason + ':'), status
    assert diag.level == DiagnosticStatus.ERROR
    assert not step(node)


def test_a_clamped_motion_that_moved_the_arm_is_progress(thrashing_vla):
    node = thrashing_vla('-p', 'stuck_cycles:=0', '-p', 'stuck_min_path:=10.0')
    assert all(step(node, 'clamped', 'target [0.5, 0.1, 0.0] is outside the workspace box; '
                    'stopping at [0.5, 0.1, 0.02]') for _ in range(12))
    assert reported(node)[0]['stuck'] is None


def test_a_new_instruction_says_at_once_that_it_is_no_longer_stuck(thrashing_vla):
    # the bridge holds the arm while vla_status says stuck: it must hear the release before
    # the first new decision, not a status period later
    node = thrashing_vla()
    assert all(step(node) for _ in range(8))
    assert reported(node)[0]['state'] == 'stuck'
    sent = len(node.published['status'])
    node.on_instruction(String(data=INSTRUCTION))
    assert len(node.published['status']) == sent + 1
    assert json.loads(node.published['status'][-1].data)['state'] != 'stuck'


def test_a_stop_said_to_a_stuck_node_is_what_it_reports(thrashing_vla):
    node = thrashing_vla()
    assert all(step(node) for _ in range(8))
    node.on_estop(True)
    assert not step(node)
    status, _ = reported(node)
    assert status['state'] == 'stopped' and status['stopped'] is True
    assert 'up_10cm/down_10cm' in status['stuck']  # still stuck, still said
    node.on_estop(False)  # released without a new instruction: still stuck
    assert not step(node)
    assert reported(node)[0]['state'] == 'stuck'


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


def test_loop_breaking_passes_over_a_primitive_already_tried_from_the_same_state(thrashing_vla):
    from rclpy.parameter import Parameter

    node = thrashing_vla('-p', 'loop_breaking:=true')
    topk = []
    node.topk_pub.publish = topk.append
    vocab = node.policy.vocab
    taken = []
    for _ in range(3):
        assert step(node)
        taken.append(json.loads(topk[-1].data))
    # up, down: back where it began, so up 10 cm again is passed over for the next best
    assert [t['avoided'] for t in taken] == [[], [], [vocab['up_10cm'].phrase]]
    assert node.motion is None and node.last['primitive'] != vocab['up_10cm'].phrase
    # a new instruction starts afresh: the policy's own choices again
    node.on_instruction(String(data=INSTRUCTION))
    assert step(node) and json.loads(topk[-1].data)['avoided'] == []
    # switched off at run time (ros2 param set): the policy's choice stands
    assert node.set_parameters([Parameter('loop_breaking', value=False)])[0].successful
    assert all(step(node) for _ in range(3))
    assert json.loads(topk[-1].data)['avoided'] == []
    assert node.last['primitive'] in (vocab['up_10cm'].phrase, vocab['down_10cm'].phrase)


def test_loops_broken_again_and_again_make_the_node_stuck(thrashing_vla):
    # the arm never moves (at the workspace boundary): every state is the same one, so from the
    # third decision on the breaker passes over the policy's choice; the fourth time it has
    # (decision 6 of 6), the node is stuck (rule 5, before the blocked rule's 8)
    node = thrashing_vla('-p', 'loop_breaking:=true')
    boundary = 'already at the workspace boundary: target outside the workspace box'
    assert all(step(node, 'clamped', boundary) for _ in range(6))
    status, diag = reported(node)
    assert status['state'] == 'stuck' and status['stuck'].startswith(
        "going in circles: the loop breaker passed over the policy's choice 4 times"), status
    assert not step(node)

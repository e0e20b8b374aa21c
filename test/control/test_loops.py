"""The loop breaker: the policy's choice, unless it was already executed from the same state."""

import numpy as np
import pytest

from contrastive_vla.control.loops import LoopBreaker
from contrastive_vla.core.vocabulary import PrimitiveVocabulary

VOCAB = PrimitiveVocabulary.load()


def prefer(*names):
    """Scores ranking ``names`` first, in that order, every other primitive after them."""
    scores = np.zeros(len(VOCAB))
    for rank, name in enumerate(names):
        scores[VOCAB[name].index] = 10.0 - rank
    return scores


def execute(breaker, scores, outcome='done', message=''):
    """Ask, execute with ``outcome``; returns the chosen primitive's name."""
    index = breaker.choose(scores)
    breaker.observe(index, VOCAB[index].delta_array(), outcome, message)
    return VOCAB[index].name


def test_the_first_visit_follows_the_policy_a_return_takes_the_next_best():
    breaker = LoopBreaker()
    up_first = prefer('up_10cm', 'left_5cm')
    down_first = prefer('down_10cm', 'right_5cm')
    assert execute(breaker, up_first) == 'up_10cm'
    assert execute(breaker, down_first) == 'down_10cm'  # a new state: the policy's choice
    # back where it began: up 10 cm was already tried from here
    assert breaker.avoided(up_first) == [VOCAB['up_10cm'].index]
    assert execute(breaker, up_first) == 'left_5cm'
    assert breaker.broken == 1
    # left 5 cm on is a new state again: up is the policy's choice there
    assert execute(breaker, up_first) == 'up_10cm'


def test_longer_cycles_and_rotations_are_states_too():
    breaker = LoopBreaker()
    square = ['backward_5cm', 'right_5cm', 'forward_5cm', 'left_5cm']
    for name in square:
        assert execute(breaker, prefer(name)) == name
    # the square closed: backward 5 cm was tried from here
    assert execute(breaker, prefer('backward_5cm', 'down_1cm')) == 'down_1cm'


def test_the_gripper_command_is_part_of_the_state():
    breaker = LoopBreaker()  # (before any gripper command its state is unknown: a state)
    assert execute(breaker, prefer('open_gripper')) == 'open_gripper'
    assert execute(breaker, prefer('close_gripper')) == 'close_gripper'
    assert execute(breaker, prefer('down_1cm')) == 'down_1cm'
    assert execute(breaker, prefer('up_1cm')) == 'up_1cm'
    assert execute(breaker, prefer('open_gripper')) == 'open_gripper'
    # open again where it closed on nothing: close once more is passed over
    assert execute(breaker, prefer('close_gripper', 'up_10cm')) == 'up_10cm'
    # saying close while closed leaves the state, so it is tried once from there
    breaker.reset()
    assert execute(breaker, prefer('close_gripper')) == 'close_gripper'
    assert execute(breaker, prefer('close_gripper', 'up_5cm')) == 'close_gripper'
    assert execute(breaker, prefer('close_gripper', 'up_5cm')) == 'up_5cm'


@pytest.mark.parametrize('outcome, message', [
    ('clamped', 'already at the workspace boundary: target outside; stopping'),
    ('unreachable', 'IK cannot reach the target'),
    ('obstructed', 'contact')])
def test_a_decision_that_left_the_arm_put_is_not_repeated(outcome, message):
    breaker = LoopBreaker()
    assert execute(breaker, prefer('left_5cm', 'up_5cm'), outcome, message) == 'left_5cm'
    assert execute(breaker, prefer('left_5cm', 'up_5cm'), outcome, message) == 'up_5cm'


@pytest.mark.parametrize('outcome', ['refused', 'rejected', 'halted', 'dry_run', 'nonsense'])
def test_decisions_that_tried_nothing_change_nothing(outcome):
    breaker = LoopBreaker()
    for _ in range(3):
        assert execute(breaker, prefer('left_5cm', 'up_5cm'), outcome) == 'left_5cm'
    assert breaker.broken == 0


def test_every_primitive_tried_from_here_follows_the_policy_and_reset_forgets():
    breaker = LoopBreaker()
    scores = prefer('down_1cm')
    for index in range(len(VOCAB)):
        breaker.observe(index, np.zeros(8), 'clamped', 'already at the workspace boundary')
    assert breaker.avoided(scores) == []
    assert VOCAB[breaker.choose(scores)].name == 'down_1cm'
    breaker.observe(VOCAB['up_10cm'].index, VOCAB['up_10cm'].delta_array())
    breaker.reset()
    assert execute(breaker, prefer('down_10cm')) == 'down_10cm'
    assert execute(breaker, prefer('up_10cm')) == 'up_10cm'
    assert execute(breaker, prefer('down_10cm', 'left_1cm')) == 'left_1cm'
    assert breaker.broken == 1


def test_a_malformed_delta_is_refused():
    from contrastive_vla.core.delta import DeltaError

    with pytest.raises(DeltaError):
        LoopBreaker().observe(0, [np.nan] * 8)

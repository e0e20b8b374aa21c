"""The stuck detector: thrashing, dithering and gripper cycling fire; reaching does not."""

import pytest

from contrastive_vla.control.stuck import StuckDetector, StuckLimits
from contrastive_vla.core.vocabulary import PrimitiveVocabulary


@pytest.fixture(scope='module')
def vocab():
    return PrimitiveVocabulary.load()


def feed(detector, vocab, names):
    """The decision count at which the detector fired, or None."""
    for name in names:
        if detector.observe(vocab[name].delta_array(), name) is not None:
            return detector.decisions
    return None


def test_up_down_thrashing_fires(vocab):
    detector = StuckDetector()
    at = feed(detector, vocab, ['up_10cm', 'down_10cm'] * 20)
    assert at == 8  # four up/down pairs
    assert detector.stuck and 'up_10cm/down_10cm' in detector.reason


def test_small_dithering_fires_as_cycling(vocab):
    # 1 cm steps: too little path for the no-progress rule, caught as A/B/A/B
    detector = StuckDetector()
    assert feed(detector, vocab, ['left_1cm', 'right_1cm'] * 10) == 8
    assert detector.reason.startswith('cycling')


def test_a_cycle_of_three_fires(vocab):
    # down 10, up 5, up 5: never nets zero over a window of 8, but repeats a cancelling cycle
    detector = StuckDetector()
    assert feed(detector, vocab, ['backward_10cm'] + ['down_10cm', 'up_5cm', 'up_5cm'] * 6) == 13
    assert detector.reason == 'cycling: down_10cm/up_5cm/up_5cm repeated 4 times'


def test_a_long_cycle_of_homing_in_and_overshooting_fires(vocab):
    # what the shipped model did told to reach a blue block that was not there (2026-12-04):
    # right 10, left 5, left 1 x5, again and again; too little path for rule 1, too long a
    # cycle for A/B/A/B. A cycle of 7 repeats 3 times (21 decisions >= 4 x 4)
    detector = StuckDetector()
    cycle = ['right_10cm', 'left_5cm'] + ['left_1cm'] * 5
    assert feed(detector, vocab, ['backward_10cm', 'forward_5cm'] + cycle * 5) == 2 + 21
    assert detector.reason == f'cycling: {"/".join(cycle)} repeated 3 times'
    assert StuckLimits().repeats(7) == 3 and StuckLimits().repeats(5) == 4
    assert StuckLimits(cycles=2).repeats(8) == 3 and StuckLimits(cycles=0).repeats(6) == 0
    # the same moves, once, on the way to a target: no cycle
    assert feed(StuckDetector(), vocab, ['backward_10cm'] + cycle + ['down_10cm']) is None


def test_a_loop_of_four_primitives_fires_as_no_progress(vocab):
    detector = StuckDetector()
    at = feed(detector, vocab, ['up_10cm', 'backward_5cm', 'down_10cm', 'forward_5cm'] * 5)
    assert at == 8 and detector.reason.startswith('no progress')


def test_rotation_back_and_forth_fires(vocab):
    detector = StuckDetector()
    assert feed(detector, vocab, ['roll_left_45deg', 'roll_right_45deg'] * 6) == 8


def test_gripper_cycling_fires(vocab):
    detector = StuckDetector()
    at = feed(detector, vocab, ['close_gripper', 'open_gripper'] * 5)
    assert at == 5 and detector.reason.startswith('gripper cycling')  # 4 changes of state


@pytest.mark.parametrize('names', [
    ['left_5cm', 'left_5cm', 'down_10cm', 'down_5cm', 'close_gripper'],
    # a whole pick and place, with a correction on the way and a retried release
    ['left_20cm', 'right_1cm', 'forward_1cm', 'down_20cm', 'down_5cm', 'close_gripper',
     'up_10cm', 'right_20cm', 'forward_5cm', 'right_1cm', 'right_1cm', 'down_5cm', 'up_5cm',
     'down_5cm', 'up_5cm', 'down_5cm', 'open_gripper'],
    # a regrasp: down, close, up, move, down, open, up, ... as stack_blocks episodes do it
    ['left_10cm', 'backward_5cm', 'left_5cm', 'down_20cm', 'down_5cm', 'close_gripper',
     'up_10cm', 'right_20cm', 'right_5cm', 'backward_5cm', 'right_1cm', 'right_1cm',
     'down_5cm', 'open_gripper', 'up_5cm', 'forward_5cm', 'down_10cm', 'close_gripper',
     'up_10cm', 'backward_5cm', 'down_5cm', 'open_gripper'],
])
def test_making_progress_does_not_fire(vocab, names):
    detector = StuckDetector()
    assert feed(detector, vocab, names) is None and not detector.stuck


def test_stays_stuck_until_reset_then_starts_afresh(vocab):
    detector = StuckDetector()
    feed(detector, vocab, ['up_10cm', 'down_10cm'] * 4)
    assert detector.stuck
    assert detector.observe(vocab['left_5cm'].delta_array()) is None and detector.stuck
    detector.reset()  # a new instruction
    assert not detector.stuck and detector.decisions == 0
    # the earlier up/down pairs are forgotten: three more pairs do not fire
    assert feed(detector, vocab, ['up_10cm', 'down_10cm'] * 3) is None
    assert feed(detector, vocab, ['up_10cm', 'down_10cm']) == 8


def test_rules_can_be_switched_off(vocab):
    detector = StuckDetector(StuckLimits(cycles=0, gripper_toggles=0, min_path=1.0))
    assert feed(detector, vocab, ['left_1cm', 'right_1cm'] * 10 +
                ['close_gripper', 'open_gripper'] * 5) is None


@pytest.mark.parametrize('kwargs', [dict(window=1), dict(min_progress=0.5, min_path=0.4),
                                    dict(min_progress=-0.1), dict(cycles=-1),
                                    dict(loop_breaks=-1)])
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        StuckLimits(**kwargs)


AT_BOUNDARY = ('already at the workspace boundary: target [0.4, 0.0, 0.01] is outside the '
               'workspace box; stopping at [0.4, 0.0, 0.02]')


def feed_outcomes(detector, vocab, steps):
    """steps: (name, outcome, message); the decision count at which it fired, or None."""
    for name, outcome, message in steps:
        if detector.observe(vocab[name].delta_array(), name, outcome, message) is not None:
            return detector.decisions
    return None


def test_pushing_against_the_workspace_boundary_fires(vocab):
    # the missed failure of the 400-episode run: down_1cm into the table, 'clamped' without
    # motion, 29 times; the no-progress rule sees 1 cm steps in one direction, not a loop
    detector = StuckDetector()
    at = feed_outcomes(detector, vocab, [('left_5cm', 'done', '')]
                       + [('down_1cm', 'clamped', AT_BOUNDARY)] * 29)
    assert at == 9
    assert detector.reason == ('pushing against the workspace boundary: the last 8 decisions '
                               '(down_1cm) did not move the arm')


@pytest.mark.parametrize('outcome, rule', [('unreachable', 'unreachable'),
                                           ('obstructed', 'obstructed')])
def test_unreachable_or_obstructed_again_and_again_fires(vocab, outcome, rule):
    detector = StuckDetector()
    names = ['forward_5cm', 'down_5cm', 'left_1cm', 'forward_5cm'] * 2
    assert feed_outcomes(detector, vocab, [(n, outcome, 'no') for n in names]) == 8
    assert detector.reason.startswith(rule + ': the last 8 decisions (down_5cm, forward_5cm, '
                                      'left_1cm)')


def test_a_mix_of_blocked_outcomes_fires_as_blocked(vocab):
    detector = StuckDetector()
    steps = [('down_1cm', 'clamped', AT_BOUNDARY), ('forward_5cm', 'unreachable', '')] * 4
    assert feed_outcomes(detector, vocab, steps) == 8
    assert detector.reason.startswith('blocked: ')


def test_a_decision_that_moves_the_arm_starts_the_count_again(vocab):
    detector = StuckDetector()
    pushes = [('down_1cm', 'clamped', AT_BOUNDARY)] * 7
    moves = [('left_5cm', 'done', ''),                          # moved
             ('down_1cm', 'clamped', 'target outside the box; stopping at ...'),  # moved some
             ('close_gripper', 'done', '')]                     # the gripper acted
    for move in moves:
        assert feed_outcomes(detector, vocab, pushes + [move]) is None
    assert feed_outcomes(detector, vocab, pushes + [pushes[0]]) is not None


def test_decisions_that_tried_nothing_are_ignored(vocab):
    detector = StuckDetector()
    steps = [('down_1cm', outcome, AT_BOUNDARY)
             for outcome in ('refused', 'rejected', 'dry_run', 'halted', 'nonsense', None)]
    feed_outcomes(detector, vocab, [s for s in steps if s[1] is not None] * 4)
    assert not detector.stuck and detector.decisions == 0
    # they do not break a run either: 7 pushes, ignored ones, one more push fires
    pushes = [('down_1cm', 'clamped', AT_BOUNDARY)] * 7
    assert feed_outcomes(detector, vocab, pushes + steps[:4] + pushes[:1]) == 8
    # a garbage outcome (from a hostile primitive_status) is ignored, not an error
    detector.reset()
    assert detector.observe(vocab['up_1cm'].delta_array(), 'up_1cm', ['x'], {'y': 1}) is None
    assert detector.decisions == 0


def test_loops_broken_again_and_again_fire(vocab):
    # the breaker picked 4 of the last 8 decisions (rule 5); 3 of 8, or 4 spread wider, do not
    names = ['left_5cm', 'forward_5cm', 'right_1cm', 'up_1cm'] * 6

    def fired(passed_over_every):
        detector = StuckDetector(StuckLimits(cycles=0, min_path=10.0))
        for i, name in enumerate(names):
            if detector.observe(vocab[name].delta_array(), name,
                                passed_over=i % passed_over_every == 0) is not None:
                return detector
        return None

    assert fired(3) is None  # at most 3 of any 8
    detector = fired(2)
    assert detector.decisions == 7 and detector.reason.startswith(
        "going in circles: the loop breaker passed over the policy's choice 4 times in the "
        'last 7 decisions')
    off = StuckDetector(StuckLimits(cycles=0, min_path=10.0, loop_breaks=0))
    assert all(off.observe(vocab[n].delta_array(), n, passed_over=True) is None for n in names)

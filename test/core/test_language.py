import math

import pytest

from contrastive_vla.core.language import SentenceMapper, parse_amount, parse_motion


@pytest.fixture(scope='module')
def mapper(vocab):
    return SentenceMapper(vocab)


@pytest.mark.parametrize('sentence, name', [
    ('move left 5 cm', 'left_5cm'),                       # a paraphrase
    ('go down five centimeters', 'down_5cm'),
    ('raise it by ten centimetres', 'up_10cm'),
    ('move forward 20 mm', 'forward_1cm'),                # 2 cm: nearest in log scale
    ('go back 0.1 m', 'backward_10cm'),
    ('come closer by forty five millimeters', 'backward_5cm'),
    ('nudge it to the right a bit', 'right_1cm'),
    ('move up a lot', 'up_20cm'),
    ('twist the wrist anticlockwise by ninety degrees', 'wrist_ccw_90deg'),
    ('tilt down 15°', 'pitch_down_15deg'),
    ('swivel right forty-five degrees', 'yaw_right_45deg'),
    ('grab it', 'close_gripper'),
    ('let go of the block', 'open_gripper'),
    ('shift the gripper leftward', 'left_5cm'),           # default step
])
def test_sentences_map_to_primitives(mapper, sentence, name):
    meaning = mapper.interpret(sentence)
    assert meaning.primitive is not None and meaning.primitive.name == name, meaning


def test_unclear_sentences_come_back_with_candidates(mapper):
    meaning = mapper.interpret('banana')
    assert meaning.primitive is None and meaning.needs_confirmation
    assert len(meaning.candidates) == 3
    wrong_unit = mapper.interpret('move left 3 degrees')
    assert wrong_unit.primitive is None and 'does not fit' in wrong_unit.note
    assert mapper.interpret('   ').note == 'nothing was said'


@pytest.mark.parametrize('sentence, confirm, why', [
    ('lift it by ten meters', 'up_20cm', 'far more than the largest step'),
    ('go down 1 km', 'down_20cm', 'far more than the largest step'),
    ('move back two feet', 'backward_20cm', 'far more than the largest step'),
    ('go down 1 mm', 'down_1cm', 'far less than the smallest step'),
    ('roll right 200 degrees', 'roll_right_90deg', 'far more than the largest step'),
    ('move left 5', 'left_5cm', 'of which unit'),
    ('move left 3 furlongs', 'left_5cm', 'of which unit'),
])
def test_absurd_or_unitless_amounts_are_confirmed_not_rounded(mapper, sentence, confirm, why):
    meaning = mapper.interpret(sentence)
    assert meaning.primitive is None and meaning.needs_confirmation, meaning
    assert meaning.candidates[0][0].name == confirm and why in meaning.note


def test_notes_say_what_was_assumed(mapper):
    assert 'nearest: 5 cm' in mapper.interpret('raise it by 3 cm').note
    assert 'default step' in mapper.interpret('move right').note


def test_amount_and_motion_parsers():
    kind, value, _ = parse_amount('go 2.5 inches up')
    assert kind == 'length' and value == pytest.approx(0.0635)
    kind, value, _ = parse_amount('roll by twenty five degrees')
    assert kind == 'angle' and value == pytest.approx(math.radians(25))
    assert parse_amount('move left')[:2] == (None, None)
    assert parse_amount('move left 5')[:2] == ('number', 5.0)
    assert parse_amount('up 2 ft')[:2] == ('length', pytest.approx(0.6096))
    assert parse_motion('roll it left') == ('roll', -1)
    assert parse_motion('go higher') == ('z', 1)
    assert parse_motion('hello there') is None

import math

import pytest

from contrastive_vla.core.language import SentenceMapper, amount_words, parse_amount, parse_motion


@pytest.fixture(scope='module')
def mapper(vocab):
    return SentenceMapper(vocab)


@pytest.mark.parametrize('sentence, name', [
    ('move left 5 cm', 'left_5cm'),                       # a paraphrase
    ('go down five centimeters', 'down_5cm'),
    ('raise it by ten centimetres', 'up_10cm'),
    ('move forward 20 mm', 'forward_1cm'),                # 2 cm: below the 3 cm bin edge
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
    # vague amounts mean what the vocabulary's paraphrases mean (config/amounts.yaml)
    ('lift up a bit', 'up_5cm'),
    ('go up slightly', 'up_5cm'),
    ('inch forward', 'forward_1cm'),                      # about 2.5 cm: the 1 cm bin
    ('shift left an inch', 'left_1cm'),
    ('push forward a smidge', 'forward_1cm'),
    ('move down a good bit', 'down_10cm'),
    ('yaw the gripper right a quarter of a turn', 'yaw_right_90deg'),
    ('tilt the gripper to the left a right angle', 'roll_left_90deg'),
    ('bank the gripper right a tiny bit', 'roll_right_5deg'),
    ('roll clockwise by 45 degrees', 'roll_right_45deg'),
    ('go further right a touch', 'right_1cm'),
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
    ('move forward a few centimeters', 'forward_1cm', 'how many centimeters'),
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
    assert parse_motion('tilt the gripper to the left a right angle') == ('roll', -1)
    assert parse_motion('go further left much further') == ('y', 1)


def test_every_vocabulary_text_parses_to_its_own_primitive(mapper, vocab):
    """The parser alone (no phrase lookup, no similarity) agrees with every phrase and
    paraphrase of config/primitives.yaml, amounts included: one meaning per amount word."""
    wrong = []
    for primitive in vocab:
        for text in primitive.texts:
            meaning = mapper.parse(text)
            got = meaning.primitive.name if meaning and meaning.primitive else meaning
            if got != primitive.name:
                wrong.append((text, primitive.name, got))
    assert not wrong, wrong


def test_amount_words_name_rungs():
    words = amount_words()
    assert words.vague['a smidge'] == 0 and words.vague['inch'] == 0
    assert words.vague['slightly'] == words.vague['a little'] == words.vague['a bit'] == 1
    assert words.vague['a lot'] == 3
    assert parse_amount('move up a bit')[2] == 1
    assert parse_amount('nudge it a bit')[2] == 0        # several: the smallest
    kind, value, _ = parse_amount('pitch down a right angle')
    assert kind == 'angle' and value == pytest.approx(math.pi / 2)
    kind, value, _ = parse_amount('an eighth of a turn')
    assert kind == 'angle' and value == pytest.approx(math.pi / 4)
    assert parse_amount('go up a centimeter')[:2] == ('length', pytest.approx(0.01))

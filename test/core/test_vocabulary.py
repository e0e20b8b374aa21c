import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import yaml

from contrastive_vla.core.resources import config_path
from contrastive_vla.core.vocabulary import (
    AXES,
    PrimitiveVocabulary,
    VocabularyError,
    normalize_phrase,
    rotation_to_rpy,
)


def test_default_vocabulary_has_the_58_clip_rt_primitives(vocab):
    assert len(vocab) == 58
    per_axis = {axis: [p for p in vocab if p.axis == axis] for axis in AXES}
    for axis in AXES[:7]:
        assert len(per_axis[axis]) == 8, axis
        assert sorted(p.direction for p in per_axis[axis]) == [-1] * 4 + [1] * 4
    assert {p.name for p in per_axis['gripper']} == {'open_gripper', 'close_gripper'}
    translations = sorted({round(p.magnitude, 6) for p in vocab if p.axis in 'xyz'})
    assert translations == [0.01, 0.05, 0.1, 0.2]
    rotations = sorted({round(math.degrees(p.magnitude), 6) for p in vocab
                        if p.axis in ('roll', 'pitch', 'yaw', 'wrist_rotate')})
    assert rotations == [5, 15, 45, 90]


def test_class_indices_follow_file_order(vocab):
    assert [p.index for p in vocab] == list(range(len(vocab)))
    assert vocab[3] is vocab[vocab.names[3]]


def test_every_paraphrase_maps_back_to_its_primitive(vocab):
    for p in vocab:
        assert len(p.paraphrases) >= 10, p.name
        for text in p.texts:
            assert vocab.lookup(text) is p, text
            assert vocab.lookup('  ' + text.upper() + '. ') is p, text


def test_paraphrases_use_varied_number_forms(vocab):
    left5 = vocab['left_5cm']
    joined = ' | '.join(left5.texts)
    for form in ('five centimeters', '5 cm', '50 mm', 'a little'):
        assert form in joined


def test_direction_conventions(vocab):
    assert vocab.delta('move the arm to the left by five centimeters')[1] == pytest.approx(0.05)
    assert vocab.delta('move the arm down by ten centimeters')[2] == pytest.approx(-0.1)
    assert vocab.delta('move the arm forward by one centimeter')[0] == pytest.approx(0.01)
    assert vocab.delta('open the gripper')[7] == 1.0
    assert vocab.delta('close the gripper')[7] == -1.0


def test_unknown_phrase_is_a_clear_key_error(vocab):
    assert vocab.lookup('do a backflip') is None
    with pytest.raises(KeyError, match='do a backflip'):
        vocab.from_phrase('do a backflip')


def test_discretize_round_trips_every_primitive(vocab):
    for p in vocab:
        action = p.delta_array()
        assert vocab.discretize(action) is p, p.name
        if not p.is_gripper:
            assert vocab.discretize(action[:7]) is p, p.name


def test_discretize_uses_clip_rt_thresholds(vocab):
    def pick(dy):
        return vocab.discretize([0, dy, 0, 0, 0, 0, 0]).name

    assert pick(0.029) == 'left_1cm'
    assert pick(0.03) == 'left_5cm'
    assert pick(0.074) == 'left_5cm'
    assert pick(0.075) == 'left_10cm'
    assert pick(0.16) == 'left_20cm'
    assert pick(-0.5) == 'right_20cm'
    assert vocab.discretize([0, 0.009, 0, 0, 0, 0, 0]) is None
    assert vocab.discretize([0, 0, 0, 0, 0, 0.17, 0]).name == 'yaw_left_5deg'
    assert vocab.discretize([0, 0, 0, 0, 0, 0.18, 0]).name == 'yaw_left_15deg'
    assert vocab.discretize([0, 0, 0, 0, 0, 1.2, 0]).name == 'yaw_left_90deg'


def test_discretize_weighs_translation_against_rotation(vocab):
    # 0.1 m weighs like 0.785 rad: 0.1 m vs 0.7 rad -> translation wins; vs 0.9 rad -> rotation
    assert vocab.discretize([0.1, 0, 0, 0.7, 0, 0, 0]).axis == 'x'
    assert vocab.discretize([0.1, 0, 0, 0.9, 0, 0, 0]).axis == 'roll'


def test_gripper_change_wins_over_motion(vocab):
    assert vocab.discretize([0.2, 0, 0, 0, 0, 0, 0, -0.9]).name == 'close_gripper'
    assert vocab.discretize([0.2, 0, 0, 0, 0, 0, 0, 0.4]).name == 'forward_20cm'


@pytest.mark.parametrize('bad', [[0.0] * 6, [0.0] * 9, [math.nan] + [0.0] * 6,
                                 [0.0] * 6 + [math.inf]])
def test_discretize_rejects_bad_actions(vocab, bad):
    with pytest.raises(ValueError):
        vocab.discretize(bad)


finite = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)
VOCAB = PrimitiveVocabulary.load()


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=7, max_size=8))
def test_discretize_property_dominant_axis_and_sign(action):
    vocab = VOCAB
    p = vocab.discretize(action)
    a = np.asarray(action)
    if len(a) == 8 and abs(a[7]) > 0.5:
        assert p.is_gripper and p.direction == np.sign(a[7])
        return
    weighted = np.abs(a[:7]) * np.array([vocab.translation_weight] * 3 + [1.0] * 4)
    axis = int(np.argmax(weighted))
    if p is None:
        smallest = 0.01 if axis < 3 else math.radians(5)
        assert abs(a[axis]) < smallest * (1 + 1e-6)
        return
    assert weighted[p.axis_index] == pytest.approx(weighted.max())
    assert p.direction == np.sign(a[p.axis_index])
    # the chosen step is the nearest one on that axis and direction
    ladder = [q for q in vocab if q.axis == p.axis and q.direction == p.direction]
    best = min(abs(q.magnitude - abs(a[p.axis_index])) for q in ladder)
    assert abs(p.magnitude - abs(a[p.axis_index])) == pytest.approx(best)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(58)), min_size=0, max_size=12))
def test_compose_property_translation_is_the_sum(indices):
    vocab = VOCAB
    net = vocab.compose(indices)
    expected = sum((vocab[i].delta_array()[:3] for i in indices), np.zeros(3))
    np.testing.assert_allclose(net.translation, expected, atol=1e-12)
    np.testing.assert_allclose(net.rotation @ net.rotation.T, np.eye(3), atol=1e-9)


def test_compose_rotations_and_gripper(vocab):
    net = vocab.compose(['yaw_left_45deg', 'yaw_left_45deg', 'open_gripper', 'close_gripper'])
    assert net.rpy[2] == pytest.approx(math.pi / 2)
    assert net.gripper == 'close'
    net = vocab.compose(['roll_right_90deg', 'pitch_down_90deg'])
    # extrinsic: roll about base x first, then pitch about base y: R = Ry(90) Rx(90)
    np.testing.assert_allclose(net.rotation, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-12)
    net = vocab.compose(['roll_right_15deg', 'pitch_up_5deg', 'yaw_left_45deg'])
    assert rotation_to_rpy(net.rotation) == pytest.approx(
        [math.radians(15), math.radians(-5), math.radians(45)])
    assert vocab.compose([]).gripper == 'unchanged'


def test_fingerprint_changes_with_the_vocabulary(vocab):
    data = vocab.to_dict()
    assert PrimitiveVocabulary.from_dict(data).fingerprint() == vocab.fingerprint()
    data['primitives'][0]['delta'][0] = 0.02
    assert PrimitiveVocabulary.from_dict(data).fingerprint() != vocab.fingerprint()


def test_normalize_phrase():
    assert normalize_phrase('  Move   LEFT a bit!! ') == 'move left a bit'


# ---- user vocabulary files -------------------------------------------------------------------

def _write(tmp_path, data):
    path = tmp_path / 'my_primitives.yaml'
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _entry(name='left_3cm', axis='y', delta=None, phrase=None, paraphrases=None):
    return {'name': name, 'axis': axis, 'phrase': phrase or f'move {name}',
            'delta': delta if delta is not None else [0, 0.03, 0, 0, 0, 0, 0, 0],
            'paraphrases': paraphrases or []}


def test_a_custom_vocabulary_loads_and_discretises(tmp_path):
    data = {'primitives': [
        _entry('left_3cm', delta=[0, 0.03, 0, 0, 0, 0, 0, 0]),
        _entry('left_8cm', delta=[0, 0.08, 0, 0, 0, 0, 0, 0]),
        _entry('grab', axis='gripper', delta=[0, 0, 0, 0, 0, 0, 0, -1])]}
    vocab = PrimitiveVocabulary.load(_write(tmp_path, data))
    assert len(vocab) == 3
    assert vocab.discretize([0, 0.06, 0, 0, 0, 0, 0]).name == 'left_8cm'
    assert vocab.discretize([0, 0.05, 0, 0, 0, 0, 0]).name == 'left_3cm'
    # no primitive for moving right: falls back to nothing rather than a wrong direction
    assert vocab.discretize([0, -0.06, 0, 0, 0, 0, 0]) is None


@pytest.mark.parametrize('entries, message', [
    ([_entry('a'), _entry('a', phrase='other')], "entry 1 \\('a'\\): duplicate name"),
    ([_entry('a', phrase='go'), _entry('b', phrase='GO.')], "entry 1 \\('b'\\): duplicate phrase"),
    ([_entry('a', paraphrases=['x']), _entry('b', paraphrases=['x'])], 'duplicate phrase'),
    ([_entry('a', delta=[0, 0.03, 0, 0, 0, 0, 0])], 'delta has 7 numbers, expected 8'),
    ([_entry('a', axis='sideways')], "unknown axis 'sideways'"),
    ([_entry('a', delta=[0, float('nan'), 0, 0, 0, 0, 0, 0])], r'delta\[1\] \(dy\) must be'),
    ([_entry('a', delta=[0, float('inf'), 0, 0, 0, 0, 0, 0])], 'finite number'),
    ([_entry('a', delta=[0, 0.03, 0.01, 0, 0, 0, 0, 0])], "also moves \\['dz'\\]"),
    ([_entry('a', delta=[0, 0, 0, 0, 0, 0, 0, 0])], 'zero along its axis'),
    ([_entry('a', delta=[0, 'far', 0, 0, 0, 0, 0, 0])], 'must be a finite number'),
    ([_entry('a', axis='gripper', delta=[0] * 7 + [0.5])], r'\+1 \(open\) or -1'),
    ([{'name': 'a', 'axis': 'y', 'delta': [0, 0.03, 0, 0, 0, 0, 0, 0]}], 'empty "phrase"'),
    ([{**_entry('a'), 'colour': 'red'}], 'unknown field'),
    (['just a string'], 'entry 0: expected a mapping'),
])
def test_bad_vocabulary_files_are_rejected_naming_file_entry_and_problem(
        tmp_path, entries, message):
    path = _write(tmp_path, {'primitives': entries})
    with pytest.raises(VocabularyError, match=message) as info:
        PrimitiveVocabulary.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize('text, message', [
    ('primitives: [', 'not valid YAML'),
    ('- a\n- b\n', 'expected a mapping'),
    ('primitives: []\n', 'non-empty list'),
    ('translation_weight: -1\nprimitives: [{name: a}]\n', 'translation_weight'),
])
def test_malformed_vocabulary_files(tmp_path, text, message):
    with pytest.raises(VocabularyError, match=message):
        PrimitiveVocabulary.load(_write(tmp_path, text))


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(VocabularyError, match='not found'):
        PrimitiveVocabulary.load(tmp_path / 'nope.yaml')


def test_shipped_file_is_the_default():
    assert PrimitiveVocabulary.load().source == str(config_path('primitives.yaml'))

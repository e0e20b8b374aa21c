"""Colour names a policy never saw, read as the known colour they name (core/colours.py)."""

import numpy as np
import pytest

from contrastive_vla.core.colours import ColourWords, colour_words_in, oklab, survey

SCENE = ['red', 'green', 'blue', 'yellow', 'purple', 'orange']


@pytest.fixture(scope='module')
def reader():
    return ColourWords(SCENE)


@pytest.mark.parametrize('said, read', [
    ('push the crimson block to the left', 'push the red block to the left'),
    ('reach the scarlet cube', 'reach the red cube'),
    ('put the emerald block in the azure zone', 'put the green block in the blue zone'),
    ('go to the Tangerine block', 'go to the orange block'),
    ('İ: go to the CRIMSON block', 'İ: go to the red block'),  # 'İ'.lower() is 2 characters
    ('the violet cube goes on the lemon one', 'the purple cube goes on the yellow one'),
    # the longest name the survey knows wins: "sky blue" is one colour, not "sky" + "blue"
    ('put it in the sky blue area', 'put it in the blue area'),
    ('stack the dark red block on the golden block', 'stack the red block on the yellow block'),
])
def test_synonyms_are_read_as_the_scene_colour(reader, said, read):
    reading = reader.read(said)
    assert reading.text == read
    assert reading.swaps and not reading.unclear


@pytest.mark.parametrize('said', [
    'reach the red block',                 # known words are left alone
    'move left 5 cm',                      # no colour at all
    'grab the apple',                      # a noun that is also a colour name: nothing follows
    'put it in the sea then go up',        # ... or a function word follows
])
def test_other_words_are_left_alone(reader, said):
    reading = reader.read(said)
    assert reading.text == said and not reading.swaps and not reading.unclear


@pytest.mark.parametrize('said, why', [
    ('reach the grey block', 'grey'),      # achromatic: none of the six
    ('reach the pink block', 'between'),   # as near red as orange: not guessed
])
def test_unclear_colours_are_reported_not_guessed(reader, said, why):
    reading = reader.read(said)
    assert reading.text == said and not reading.swaps
    assert len(reading.unclear) == 1 and why in reading.unclear[0][1]
    assert why in reading.describe()


def test_a_policy_without_known_colours_reads_as_is():
    reading = ColourWords([]).read('reach the crimson block')
    assert reading.text == 'reach the crimson block' and not reading.swaps


def test_colour_words_of_training_instructions():
    assert colour_words_in(['reach the red block', 'put the Blue cube in the green zone',
                            'move left', 'put the apple in the bowl']) == ['blue', 'green', 'red']


def test_oklab_matches_its_reference_values():
    # Björn Ottosson's published values: white (1, 0, 0), and sRGB red
    np.testing.assert_allclose(oklab([1.0, 1.0, 1.0]), [1.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(oklab([1.0, 0.0, 0.0]), [0.62796, 0.22486, 0.12585], atol=1e-4)
    assert 'crimson' in survey() and 'dark' not in survey()

"""Stop intent anywhere in a short sentence, before any other check; explicit releases."""

import re

import pytest
import yaml

from contrastive_vla.control.instruction import (
    DEFAULT_STOP_WORDS,
    InstructionError,
    interpret,
    stop_intent,
)
from contrastive_vla.core.resources import config_path

S3_S4 = ['please stop', 'emergency stop', 'e-stop', 'no, stop!', "don't move", 'stop stop',
         'STOP!', 'halt now', 'freeze', 'hold on, stop', 'e stop', 'estop', 'abort',
         'do not move', 'stop moving', 'cease', 'kill it', 'E-STOP!!', 'Stop.', 'wait',
         'Don\u2019t move!', 'robot, please stop now', 'pick up the red block... no, stop',
         'please stop the robot right now', 'I told you to stop', 'hold on',
         "don't stop"]  # ambiguous: read as a stop (the safe side), never as a task


@pytest.mark.parametrize('text', S3_S4)
def test_stop_intent_anywhere_in_a_short_sentence(text):
    i = interpret(text)
    assert i.is_stop and not i.is_task and not i.is_release


@pytest.mark.parametrize('text', [
    'STOP\x07', 'halt\x1b[0m', '\x1b[31mstop\x1b[0m', 'stop\x00now', b'stop\xff\xfe',
    'stop ' + 'now ' * 100, 'stop ' + 'x' * 4995, 'please stop ' + '!' * 5000,
    '\x1b]0;title\x07freeze', 'e\u2011stop', '\uff33\uff34\uff2f\uff30',  # fullwidth STOP
])
def test_stop_before_validation_control_characters_and_over_long(text):
    assert interpret(text).is_stop


def test_stop_text_is_printable_and_bounded():
    i = interpret('\x1b[31mSTOP\x07 ' + 'now ' * 2000)
    assert i.is_stop and len(i.text) <= 300 and i.text.startswith('STOP')
    assert not re.search(r'[\x00-\x1f\x7f]', i.text)


@pytest.mark.parametrize('text', [
    'move to the left without stopping', 'put the block at the bus stop',
    'put the red block on the stop sign', 'grab the blue block and hold it up high',
    'carry the red block over to the green square and let go',
    'push the red block to the left and keep going',
])
def test_no_false_positives_in_task_sentences(text):
    i = interpret(text)
    assert not i.is_stop and i.is_task


def _templates():
    tasks = yaml.safe_load(config_path('tasks.yaml').read_text())['tasks']
    unseen = yaml.safe_load(config_path('instructions_unseen.yaml').read_text())
    out = [t for task in tasks.values() for t in task['templates']]
    out += [t for templates in unseen.values() for t in templates]
    fill = {'block': 'red', 'zone': 'green', 'base': 'blue'}
    return sorted({t.format(**fill) for t in out})


def test_at_least_30_template_sentences_are_tasks_not_stops():
    sentences = _templates()
    assert len(sentences) >= 30
    for s in sentences:
        i = interpret(s)
        assert not i.is_stop and i.is_task and not i.is_release, s


@pytest.mark.parametrize('text', ['continue', 'Resume!', 'go on', 'carry on', 'ok, continue',
                                  'please resume'])
def test_release_words(text):
    i = interpret(text)
    assert i.is_release and not i.is_stop


@pytest.mark.parametrize('text', ['wait', 'abort', 'no no no', 'hmm', 'ok', 'yes',
                                  "don't continue", 'never resume'])
def test_never_a_release_nor_a_task(text):
    i = interpret(text)
    assert not i.is_release and not i.is_task


def test_release_words_are_configurable():
    assert interpret('onwards', release_words=['onwards']).is_release
    assert not interpret('continue', release_words=['onwards']).is_release


def test_custom_stop_phrases_are_normalised():
    assert interpret('Red-Alert!', stop_words=['red alert']).is_stop
    assert not interpret('please stop', stop_words=['red alert']).is_stop


def test_stop_words_that_disable_stopping_are_refused():
    with pytest.raises(ValueError, match='stop'):
        interpret('stop', stop_words=[])
    with pytest.raises(ValueError, match='stop'):
        interpret('stop', stop_words=['', ' - '])


def test_stop_intent_is_a_pure_prefix_check():
    assert stop_intent('stop') and not stop_intent('pick up the red block')
    assert 'stop' in DEFAULT_STOP_WORDS and 'abort' in DEFAULT_STOP_WORDS


def test_non_stop_sentences_are_still_validated():
    with pytest.raises(InstructionError, match='control characters'):
        interpret('go\x07 left')
    with pytest.raises(InstructionError, match='characters long'):
        interpret('push the red block ' * 30)

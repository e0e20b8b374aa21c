import pytest

from contrastive_vla.control.instruction import InstructionError, interpret


@pytest.mark.parametrize('text', ['stop', 'STOP!', '  halt now ', 'Freeze, robot', 'stop the arm'])
def test_stop_words(text):
    assert interpret(text).is_stop


def test_task_instruction_is_normalised():
    i = interpret('  pick up\tthe   red block ')
    assert i.text == 'pick up the red block' and not i.is_stop
    assert not interpret('put the block at the bus stop').is_stop  # only the first word counts


@pytest.mark.parametrize('text, why', [
    ('', 'empty'), ('   \n ', 'empty'), ('x' * 400, '400 characters'),
    ('go\x07 left', 'control characters'), (b'\xff\xfe', 'UTF-8'), (42, 'must be text'),
    ('?!...', 'no words'),
])
def test_rejections_say_why(text, why):
    with pytest.raises(InstructionError, match=why):
        interpret(text)


def test_custom_stop_words_and_limit():
    assert interpret('abort mission', stop_words=['abort']).is_stop
    with pytest.raises(InstructionError, match='limit is 10'):
        interpret('a' * 11, max_chars=10)

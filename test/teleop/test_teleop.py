"""A scripted person teaches a task; the bag holds their sentences and only the kept steps."""

import pytest

from contrastive_vla.data.dataset import read_episode
from contrastive_vla.teleop.session import TeleopSession


@pytest.fixture(scope='module')
def env():
    from contrastive_vla.sim.env import TabletopEnv

    e = TabletopEnv(image_size=(48, 48))
    yield e
    e.close()


def test_session_records_sentences_undo_and_outcome(env, tmp_path, vocab):
    session = TeleopSession(env, tmp_path, view_path=tmp_path / 'view.png')
    assert 'reach_block' in session.start('reach_block', 4).text
    assert 'left by one centimeter' in session.say('move left a smidge').text
    assert 'Did you mean' in session.say('banana').text
    assert 'roll' in session.say('1').text
    assert 'undone' in session.say('undo').text
    assert 'down by five' in session.say('go down 5 cm').text
    assert session.say('2').text == 'there is nothing to choose from'
    reply = session.say('done')
    assert reply.episode_over and reply.bag.is_dir()
    assert (tmp_path / 'view.png').is_file()
    samples, success, _ = read_episode(reply.bag, vocab, 32)
    assert success
    assert [vocab[i].name for i in samples['labels']] == ['left_1cm', 'down_5cm']
    assert samples['supervisions'] == ['move left a smidge', 'go down 5 cm']
    assert samples['instructions'][0] == env.spec.instruction


def test_failed_episode_is_marked_and_names_do_not_clash(env, tmp_path, vocab):
    session = TeleopSession(env, tmp_path)
    session.start('lift_block', 1)
    session.say('close the gripper')
    first = session.say('failed').bag
    session.start('lift_block', 1)
    session.say('open the gripper')
    second = session.say('give up').bag
    assert first != second
    assert read_episode(first, vocab, 32)[1] is False
    assert session.say('undo').text == 'nothing to undo'


def test_scripted_operator_teaches_in_casual_words(env, tmp_path, vocab):
    from contrastive_vla.teleop.session import ScriptedOperator

    session = TeleopSession(env, tmp_path)
    operator = ScriptedOperator(session, seed=0)
    said = []
    reply = operator.run_episode('lift_block', 2, echo=said.append)
    assert reply.episode_over and said[-2] == '> done'
    assert operator.misheard == 0 and operator.said >= 4
    samples, success, _ = read_episode(reply.bag, vocab, 32)
    assert success and len(samples['labels']) == operator.said
    # the recorded sentences are the operator's own words, mapped to the steps it meant
    assert any(vocab.lookup(s) is None for s in samples['supervisions'])
    assert vocab[samples['labels'][-2]].name == 'close_gripper'

"""``contrastive-vla train`` refuses data and state files it cannot use with one clear line."""

import numpy as np
import pytest
import torch

from contrastive_vla.bag import BagWriter
from contrastive_vla.cli import main
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.demos import EpisodeBagRecorder
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.rollout import StepRecord


@pytest.fixture(scope='module')
def one_step_bags(tmp_path_factory):
    """One successful episode with exactly one decision: one usable sample."""
    out = tmp_path_factory.mktemp('one_step')
    env = TabletopEnv(image_size=(48, 48))
    obs = env.reset('reach_block', 3)
    primitive = PrimitiveVocabulary.load()[0]
    with BagWriter(out / 'reach_block_s000003') as writer:
        recorder = EpisodeBagRecorder(writer, env, np.random.default_rng(0))
        recorder.start(env.spec)
        recorder.observation(obs)
        recorder.step(StepRecord(obs, primitive, Outcome.DONE, '', 0.0), obs.time + 1.0)
        recorder.end(obs, True)
    return out


def _train(data, out, *extra):
    return main(['train', '--data', str(data), '--out', str(out), '--config', 'clip_rt_tiny',
                 '--batch-size', '8', '--epochs', '1', '--eval-tasks', 'none', '--threads', '1',
                 '--no-progress', *extra])


def _one_line(err):
    lines = [line for line in err.splitlines() if line.startswith('contrastive-vla train')]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def test_one_usable_sample_is_refused_with_one_line(one_step_bags, tmp_path, capsys):
    assert _train(one_step_bags, tmp_path / 'run') == 2
    line = _one_line(capsys.readouterr().err)
    assert 'training needs at least 2' in line and '1 usable sample' in line


def test_a_pickled_training_state_is_refused_without_suggesting_unpickling(
        one_step_bags, tmp_path, capsys):
    from contrastive_vla.training.train import load_training_state

    state = tmp_path / 'training_state.pt'
    torch.save({'optimizer': {}, 'epoch': 1, 'step': 1, 'best_success': 0.0,
                'extra': object()}, state)
    with pytest.raises(ValueError) as info:
        load_training_state(state)
    message = str(info.value)
    assert 'weights_only' not in message and '\n' not in message
    assert str(state) in message and 'not a plain training state' in message

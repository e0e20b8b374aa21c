"""The curriculum phase (``train --curriculum-tasks T --curriculum-steps N``): its batches come
from those tasks' episodes alone, it comes before the epochs on one learning-rate schedule,
and a run stopped within it resumes bit for bit."""

import json
import os
import signal

import numpy as np
import pytest

from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.curriculum import curriculum_order, sample_tasks
from contrastive_vla.training.curve import kept_checkpoints


@pytest.fixture(scope='module')
def data(bags, vocab):
    from contrastive_vla.data.dataset import load_demonstrations

    return load_demonstrations([bags], vocab, 32, progress=False).split_by_episode(0.2, seed=0)


def test_the_order_holds_the_tasks_samples_alone_each_round_a_fresh_shuffle(data):
    train_set, _ = data
    tasks = sample_tasks(train_set)
    reach = set(np.flatnonzero(tasks == 'reach_block'))
    assert reach and len(reach) < len(train_set)  # the fixture has a second task
    steps, batch = 2 * len(reach), 4  # eight rounds through the reach samples
    order = curriculum_order(train_set, ['reach_block'], steps, batch, seed=3)
    assert len(order) == steps * batch and set(order) == reach
    rounds = order.reshape(-1, len(reach))
    assert all(sorted(r) == sorted(reach) for r in rounds)  # each sample once per round
    assert len({tuple(r) for r in rounds}) > 1  # reshuffled between rounds
    again = curriculum_order(train_set, ['reach_block'], steps, batch, seed=3)
    assert np.array_equal(order, again)  # the same on every process and after a resume
    assert not np.array_equal(order, curriculum_order(train_set, ['reach_block'], steps, batch,
                                                      seed=4))


def test_data_without_the_tasks_episodes_is_refused_saying_how_they_are_found(data):
    train_set, _ = data
    with pytest.raises(ValueError, match='bag names collect gives'):
        curriculum_order(train_set, ['stack_blocks'], 3, 4, seed=0)


def test_tasks_come_from_the_bag_names_and_unnamed_bags_have_none(data):
    train_set, _ = data
    tasks = sample_tasks(train_set)
    assert len(tasks) == len(train_set)
    assert set(tasks) == {'reach_block', 'place_in_zone'}


def _trainer(data, vocab, out, steps, **options):
    import torch

    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.training.train import Trainer

    train_set, val_set = data
    torch.manual_seed(0)
    config = TrainingConfig(data=['unused'], out=str(out), epochs=1, batch_size=8,
                            instruction_noise=0.5, eval_tasks='none', threads=1,
                            progress=False, checkpoint_minutes=0.0, warmup_steps=2,
                            curriculum_tasks='reach_block', curriculum_steps=steps,
                            **options)
    return Trainer(ClipRT(ModelConfig.load('clip_rt_tiny')), vocab, train_set, val_set, config)


def test_the_phase_trains_first_on_the_tasks_then_the_epochs_on_one_schedule(data, vocab,
                                                                             tmp_path):
    from contrastive_vla.training.train import _schedule

    train_set, _ = data
    tasks = sample_tasks(train_set)
    trainer = _trainer(data, vocab, tmp_path / 'run', steps=3, keep_checks=True)
    make = trainer.batches.make
    drawn = []
    trainer.batches.make = lambda idx, dataset, part=None: (drawn.append(tasks[idx]),
                                                            make(idx, dataset, part))[1]
    trainer.fit()
    per_epoch = len(train_set) // 8
    assert len(drawn) == 3 + per_epoch
    assert all(set(t) == {'reach_block'} for t in drawn[:3])
    assert {'reach_block', 'place_in_zone'} <= set(np.concatenate(drawn[3:]))
    rows = [json.loads(line) for line in (tmp_path / 'run' / 'metrics.jsonl').read_text()
            .splitlines()]
    assert [(r['epoch'], r['step'], r.get('phase')) for r in rows] == [
        (0, 3, 'curriculum'), (1, 3 + per_epoch, None)]
    assert rows[0]['val_accuracy'] is not None
    assert 0 <= rows[0]['train_minutes'] <= rows[1]['train_minutes']  # the phase counts
    # the phase's end is kept for the curve (no closed-loop check ran, so no epoch is)
    assert kept_checkpoints(tmp_path / 'run') == [(0, tmp_path / 'run' / 'epoch_000'),
                                                  (1, tmp_path / 'run' / 'last')]
    assert json.loads((tmp_path / 'run' / 'epoch_000' / 'meta.json').read_text())['step'] == 3
    # one schedule over both phases: its last step is the last of 3 + per_epoch
    total = 3 + per_epoch
    assert rows[1]['lr'] == pytest.approx(
        trainer.base_lr * _schedule(total - 1, min(2, max(1, total // 5)), total))
    assert rows[1]['lr'] != pytest.approx(
        trainer.base_lr * _schedule(total - 1, min(2, max(1, total // 5)), per_epoch))


def test_a_run_stopped_within_the_phase_resumes_bit_for_bit(data, vocab, tmp_path, request,
                                                            assert_resumed_as_whole):
    from safetensors.torch import load_file

    from contrastive_vla.training.train import load_training_state

    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, inherited))
    whole = _trainer(data, vocab, tmp_path / 'whole', steps=4)
    whole.fit()
    stopped = _trainer(data, vocab, tmp_path / 'stopped', steps=4)
    make = stopped.batches.make
    made = []

    def make_then_interrupt(idx, dataset, part=None):
        made.append(1)
        if len(made) == 2:  # while the phase's first batch trains
            os.kill(os.getpid(), signal.SIGINT)
        return make(idx, dataset, part)

    stopped.batches.make = make_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        stopped.fit()
    state = load_training_state(tmp_path / 'stopped' / 'last' / 'training_state.pt')
    assert state['epoch'] == 0 and 0 < state['step'] < 4
    assert state['progress']['batch'] == state['step']
    resumed = _trainer(data, vocab, tmp_path / 'stopped', steps=4)
    assert resumed.resume()
    resumed.model.load_state_dict(load_file(str(tmp_path / 'stopped' / 'last' /
                                                 'model.safetensors')))
    resumed.fit()
    assert_resumed_as_whole(whole, resumed)

"""``contrastive-vla train`` end to end on a few simulator bags with the tiny config: run
directory, checkpoints, metrics, resume, warm start into token attention, bad arguments."""

from dataclasses import fields
import json

import pytest

from contrastive_vla.cli import main
from contrastive_vla.model.policy import load_model
from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.train import load_training_state


def _train(bags, out, *extra):
    return main(['train', '--data', str(bags), '--out', str(out), '--batch-size', '8',
                 '--eval-every', '1', '--eval-tasks', 'reach_block', '--eval-episodes', '1',
                 '--threads', '1', '--no-progress', *extra])


def _epochs(run):
    return [json.loads(line)['epoch'] for line in (run / 'metrics.jsonl').read_text().splitlines()]


def test_train_writes_checkpoints_metrics_and_resumes(bags, tmp_path):
    run = tmp_path / 'run'
    assert _train(bags, run, '--config', 'clip_rt_tiny', '--epochs', '2') == 0
    assert _epochs(run) == [1, 2]
    for name in ('best', 'last'):
        assert {'config.json', 'model.safetensors', 'vocabulary.yaml', 'meta.json'} <= {
            p.name for p in (run / name).iterdir()}
    summary = json.loads((run / 'summary.json').read_text())
    assert summary['final_val']['samples'] > 0
    # held-out accuracy per task too, from the bags' names
    per_task = summary['final_val']['per_task']
    assert set(per_task) <= {'reach_block', 'place_in_zone'} and per_task
    assert all(0 <= v <= 1 for v in per_task.values())
    assert 'val_per_task' in json.loads((run / 'metrics.jsonl').read_text().splitlines()[-1])
    # the whole TrainingConfig is recorded, and the architecture's name beside it
    assert {f.name for f in fields(TrainingConfig)} <= set(summary)
    assert (summary['model'], summary['epochs'], summary['batch_size']) == ('clip_rt_tiny', 2, 8)
    meta = json.loads((run / 'last' / 'meta.json').read_text())
    assert meta['seed'] == 0
    # the colour names its instructions used: what the policy reads other colour names as
    assert meta['colour_words'] and set(meta['colour_words']) <= {
        'red', 'green', 'blue', 'yellow', 'purple', 'orange'}
    assert (run / 'training.png').stat().st_size > 1000
    # every bag, relabelled twins included, is read like any demonstration
    assert any(bags.glob('*_relabel'))
    assert summary['episodes'] == len(list(bags.glob('*_s0*')))
    held_out = set((run / 'val_episodes.txt').read_text().split())
    assert held_out
    for name in held_out:  # a twin is held out with its original (same images)
        twin = name[:-len('_relabel')] if name.endswith('_relabel') else name + '_relabel'
        assert twin in held_out or not (bags / twin).exists()
    first = load_training_state(run / 'last' / 'training_state.pt')['wall_seconds']
    assert _train(bags, run, '--config', 'clip_rt_tiny', '--epochs', '3', '--resume') == 0
    assert _epochs(run) == [1, 2, 3]
    # the training wall-clock (evaluation excluded) adds up over the epochs and the resume
    rows = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines()]
    minutes = [r['train_minutes'] for r in rows]
    assert rows[0]['epoch_s'] > 0 and minutes == sorted(minutes)
    assert minutes[2] == pytest.approx(minutes[1] + rows[2]['epoch_s'] / 60, abs=0.01)
    # and so does the whole run's (the summary of the resumed invocation counts the first's)
    state = load_training_state(run / 'last' / 'training_state.pt')
    resumed = json.loads((run / 'summary.json').read_text())
    assert resumed['epoch_seconds'] == pytest.approx(minutes[2] * 60, abs=1.0)
    assert resumed['train_seconds'] >= state['wall_seconds'] > first > 0


def test_a_fine_tune_keeps_the_held_out_episodes_it_is_given(bags, tmp_path):
    names = sorted(p.name for p in bags.iterdir())
    chosen = [n for n in names if n.startswith('reach_block')][:1]
    (tmp_path / 'val.txt').write_text(''.join(f'{n}\n' for n in chosen + ['not_a_bag']))
    run = tmp_path / 'run'
    assert _train(bags, run, '--config', 'clip_rt_tiny', '--epochs', '1', '--eval-tasks',
                  'none', '--val-episodes', str(tmp_path / 'val.txt')) == 0
    assert (run / 'val_episodes.txt').read_text().split() == chosen
    summary = json.loads((run / 'summary.json').read_text())
    assert summary['val_episodes'] == str(tmp_path / 'val.txt')  # the ship script repeats it


def test_warm_start_into_token_attention(bags, tmp_path, capsys):
    assert _train(bags, tmp_path / 'plain', '--config', 'clip_rt_tiny', '--epochs', '1') == 0
    tokens = tmp_path / 'tiny_tokens.json'
    config = json.loads((tmp_path / 'plain' / 'last' / 'config.json').read_text())
    tokens.write_text(json.dumps(config | {'name': 'tiny_tokens', 'token_attention': True}))
    assert _train(bags, tmp_path / 'tokens', '--config', str(tokens), '--epochs', '1',
                  '--init', str(tmp_path / 'plain' / 'last'), '--new-lr-scale', '10',
                  '--instruction-noise', '0.5') == 0
    model, _, meta = load_model(tmp_path / 'tokens' / 'last')
    assert model.cfg.token_attention
    summary = json.loads((tmp_path / 'tokens' / 'summary.json').read_text())
    assert summary['new_lr_scale'] == 10 and summary['instruction_noise'] == 0.5


@pytest.mark.parametrize('args, message', [
    (['--epochs', '0'], '--epochs must be positive'),
    (['--batch-size', '1'], '--batch-size must be at least 2'),
    (['--eval-tasks', 'no_such_task'], 'unknown task id'),
    (['--new-lr-scale', '0'], '--new-lr-scale must be positive'),
    (['--instruction-noise', '1.5'], '--instruction-noise must be in [0, 1]'),
    (['--val-episodes', '/nonexistent/val.txt'], '--val-episodes: no file'),
    (['--curriculum-steps', '3'], '--curriculum-steps needs --curriculum-tasks'),
    (['--curriculum-tasks', 'reach', '--curriculum-steps', '3'],
     '--curriculum-tasks: unknown task id'),
])
def test_bad_training_arguments(bags, tmp_path, capsys, args, message):
    assert _train(bags, tmp_path / 'run', *args) == 2
    assert message in capsys.readouterr().err


def test_the_memory_mapped_store_trains_bit_for_bit_as_the_array_in_memory(bags, vocab,
                                                                           tmp_path):
    import numpy as np
    import torch

    from contrastive_vla.data.dataset import MappedImages, load_demonstrations
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.training.train import Trainer

    cache = tmp_path / 'cache'
    mapped = load_demonstrations([bags], vocab, 32, cache_dir=cache, progress=False)
    memory = load_demonstrations([bags], vocab, 32, cache_dir=cache, progress=False,
                                 in_memory=True)
    assert isinstance(mapped.images, MappedImages) and isinstance(memory.images, np.ndarray)
    store = mapped.images.path
    assert store.parent == cache and store.suffix == '.npy'
    written = store.stat().st_mtime_ns  # written once, then read again
    assert load_demonstrations([bags], vocab, 32, cache_dir=cache, progress=False
                               ).images.path == store
    assert store.stat().st_mtime_ns == written
    # pages handed back while reading: the rows read after are still the right ones
    mapped.images.release_bytes = 3 * 32 * 32 * 3
    idx = np.random.default_rng(0).permutation(len(memory))
    for part in np.array_split(idx, 7):
        np.testing.assert_array_equal(mapped.image_batch(part), memory.image_batch(part))
    weights = []
    for data in (mapped, memory):
        train_set, val_set = data.split_by_episode(0.2, seed=0)
        torch.manual_seed(0)
        model = ClipRT(ModelConfig.load('clip_rt_tiny'))
        config = TrainingConfig(data=[str(bags)], out=str(tmp_path / str(len(weights))),
                                epochs=2, batch_size=8, instruction_noise=0.5,
                                eval_tasks='none', threads=1, progress=False)
        Trainer(model, vocab, train_set, val_set, config).fit()
        weights.append(model.state_dict())
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_a_recipe_trains_from_scratch_with_tiny_overrides(bags, tmp_path):
    from contrastive_vla.training.config import load_recipe

    run = tmp_path / 'run'
    assert _train(bags, run, '--recipe', 'large', '--config', 'clip_rt_tiny', '--epochs', '1',
                  '--eval-tasks', 'none', '--warmup-steps', '2') == 0
    summary = json.loads((run / 'summary.json').read_text())
    recipe = load_recipe('large')['train']
    assert summary['recipe'] == 'large' and summary['init'] is None
    assert (summary['config'], summary['epochs'], summary['batch_size']) == (
        'clip_rt_tiny', 1, 8)  # the options given
    for name in ('instruction_noise', 'lr', 'weight_decay', 'loss', 'val_fraction'):
        assert summary[name] == recipe[name], name  # the recipe's
    assert json.loads((run / 'last' / 'meta.json').read_text())['recipe'] == 'large'
    # the recipe compiles the step; the eager step trains the same model, up to float rounding
    assert summary['compile'] is True
    eager = tmp_path / 'eager'
    assert _train(bags, eager, '--recipe', 'large', '--config', 'clip_rt_tiny', '--epochs', '1',
                  '--eval-tasks', 'none', '--warmup-steps', '2', '--no-compile') == 0
    rows = [json.loads((r / 'metrics.jsonl').read_text().splitlines()[-1]) for r in (run, eager)]
    assert rows[0]['step'] == rows[1]['step'] > 1
    assert rows[0]['loss'] == pytest.approx(rows[1]['loss'], rel=1e-3)


def _trainers(bags, vocab):
    """A function out_dir, checkpoint_minutes -> a fresh Trainer of the tiny model on
    ``bags`` (the same weights, split and draws every time), and the steps of an epoch."""
    import torch

    from contrastive_vla.data.dataset import load_demonstrations
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.training.train import Trainer

    data = load_demonstrations([bags], vocab, 32, progress=False)
    train_set, val_set = data.split_by_episode(0.2, seed=0)

    def trainer(out, checkpoint_minutes=0.0):
        torch.manual_seed(0)
        config = TrainingConfig(data=[str(bags)], out=str(out), epochs=2, batch_size=8,
                                instruction_noise=0.5, eval_tasks='none', threads=1,
                                progress=False, checkpoint_minutes=checkpoint_minutes)
        return Trainer(ClipRT(ModelConfig.load('clip_rt_tiny')), vocab, train_set, val_set,
                       config)

    return trainer, len(train_set) // 8


def test_ctrl_c_saves_the_batch_reached_and_resume_continues_bit_for_bit(
        bags, vocab, tmp_path, caplog, request, assert_resumed_as_whole):
    import os
    import signal

    from safetensors.torch import load_file

    # started as a background job (`cmd &` in a script) a process inherits Ctrl-C ignored,
    # and training leaves an ignored signal ignored: give this test Python's own handler
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, inherited))
    trainer, steps = _trainers(bags, vocab)
    assert steps >= 4
    whole = trainer(tmp_path / 'whole')
    whole.fit()
    stopped = trainer(tmp_path / 'stopped')
    make = stopped.batches.make
    made = []

    def make_then_interrupt(idx, dataset, part=None):
        made.append(len(made))
        if len(made) == steps + 2:  # while the second epoch's first batch trains
            os.kill(os.getpid(), signal.SIGINT)
        return make(idx, dataset, part)

    stopped.batches.make = make_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        stopped.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert 'SIGINT: stopped in epoch 2 after batch' in caplog.text
    state = load_training_state(tmp_path / 'stopped' / 'last' / 'training_state.pt')
    assert state['epoch'] == 1 and state['progress']['batch'] in (1, 2)
    resumed = trainer(tmp_path / 'stopped')
    assert resumed.resume() and resumed.step == steps + resumed.progress['batch']
    resumed.model.load_state_dict(load_file(str(tmp_path / 'stopped' / 'last' /
                                                 'model.safetensors')))
    resumed.fit()
    assert whole.step == 2 * steps
    # the same weights as the run that was never stopped: the same batches, the same draws
    assert_resumed_as_whole(whole, resumed)


def test_last_is_saved_within_an_epoch_every_checkpoint_minutes(bags, vocab, tmp_path):
    trainer, steps = _trainers(bags, vocab)
    run = trainer(tmp_path / 'run', checkpoint_minutes=1e-9)  # after every batch
    save = run.save
    positions = []

    def recording(name, meta=None):
        positions.append((run.epoch, (run.progress or {}).get('batch')))
        return save(name, meta)

    run.save = recording
    run.fit()
    # every batch but an epoch's last (the end of the epoch saves it), then the epoch's end
    # (epochs completed, no position)
    assert positions == [pos for e in (0, 1)
                         for pos in [*((e, b) for b in range(1, steps)), (e + 1, None)]]


def test_sigterm_stops_the_command_after_saving_where_it_was(bags, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from contrastive_vla.training.train import load_training_state

    run = tmp_path / 'run'
    state = run / 'last' / 'training_state.pt'
    process = subprocess.Popen(
        [sys.executable, '-m', 'contrastive_vla.cli', 'train', '--data', str(bags), '--out',
         str(run), '--config', 'clip_rt_tiny', '--epochs', '50', '--batch-size', '8',
         '--eval-tasks', 'none', '--threads', '1', '--no-progress',
         '--checkpoint-minutes', '1e-9'],
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state.exists(), 'training never saved a checkpoint'
        process.send_signal(signal.SIGTERM)  # what a launcher or a batch system sends
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err[-2000:]
    assert 'SIGTERM: stopped in epoch' in err and '--resume continues from there' in err
    saved = load_training_state(state)
    assert saved['epoch'] < 50 and saved['step'] > 0


def test_a_task_the_check_never_solves_is_named_once_the_rest_are_learned():
    from contrastive_vla.training.train import unsolved_tasks

    check = {'reach_block': 1.0, 'place_in_zone': 0.0, 'stack_blocks': 0.75, 'lift_block': 0.0}
    assert unsolved_tasks(check, 0.8) == ['lift_block', 'place_in_zone']
    assert unsolved_tasks(check, 0.3) == []  # early: nothing is learned yet
    assert unsolved_tasks({'reach_block': 1.0}, 1.0) == []


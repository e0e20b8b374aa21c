"""``contrastive-vla train`` end to end on a few simulator bags with the tiny config: run
directory, checkpoints, metrics, resume, warm start into token attention, bad arguments."""

from dataclasses import fields
import json

import pytest

from contrastive_vla.cli import main
from contrastive_vla.data.demos import collect
from contrastive_vla.model.policy import load_model
from contrastive_vla.training.config import TrainingConfig


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    out = tmp_path_factory.mktemp('bags')
    collect(['reach_block', 'place_in_zone'], 2, out, seed=11, workers=1, image_size=(48, 48),
            progress=False, augment='none', relabel=True)
    return out


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
    # the whole TrainingConfig is recorded, and the architecture's name beside it
    assert {f.name for f in fields(TrainingConfig)} <= set(summary)
    assert (summary['model'], summary['epochs'], summary['batch_size']) == ('clip_rt_tiny', 2, 8)
    assert json.loads((run / 'last' / 'meta.json').read_text())['seed'] == 0
    assert (run / 'training.png').stat().st_size > 1000
    # every bag, relabelled twins included, is read like any demonstration
    assert any(bags.glob('*_relabel'))
    assert summary['episodes'] == len(list(bags.glob('*_s0*')))
    held_out = set((run / 'val_episodes.txt').read_text().split())
    assert held_out
    for name in held_out:  # a twin is held out with its original (same images)
        twin = name[:-len('_relabel')] if name.endswith('_relabel') else name + '_relabel'
        assert twin in held_out or not (bags / twin).exists()
    assert _train(bags, run, '--config', 'clip_rt_tiny', '--epochs', '3', '--resume') == 0
    assert _epochs(run) == [1, 2, 3]


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
])
def test_bad_training_arguments(bags, tmp_path, capsys, args, message):
    assert _train(bags, tmp_path / 'run', *args) == 2
    assert message in capsys.readouterr().err

"""training/curve.py and `contrastive-vla curve`: a run's kept checkpoints on fresh seeds."""

import json

import pytest

from contrastive_vla.cli import main
from contrastive_vla.training.curve import format_curve, kept_checkpoints, minutes_to


def _point(epoch, minutes, success):
    return {'epoch': epoch, 'train_minutes': minutes, 'val_accuracy': 0.5,
            'val_top3_accuracy': 0.8, 'check': None, 'success': {'templates': success},
            'ci95': {'templates': [0.0, 1.0]}, 'per_task': {}}


def test_minutes_to_is_the_first_checkpoint_at_the_target_not_the_best():
    points = [_point(9, 55.0, 0.93), _point(3, 18.0, 0.40), _point(6, 36.0, 0.91),
              _point(12, 76.0, 0.89)]
    assert minutes_to(points, 'templates', 0.9) == 36.0
    assert minutes_to(points, 'templates', 0.95) is None
    assert minutes_to(points, 'reworded', 0.5) is None  # a wording never evaluated
    text = format_curve({'target': 0.9, 'points': points,
                         'minutes_to_target': {'templates': 36.0}})
    assert 'to 90% with templates: 36.0 training minutes' in text
    assert '91.0%' in text and '-' in text  # the check not run at that epoch


def test_kept_checkpoints_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='no metrics.jsonl'):
        kept_checkpoints(tmp_path)
    (tmp_path / 'metrics.jsonl').write_text('')
    with pytest.raises(FileNotFoundError, match='--keep-checks'):
        kept_checkpoints(tmp_path)
    for name in ('epoch_010', 'epoch_002', 'epoch_x', 'best'):
        (tmp_path / name).mkdir()
    (tmp_path / 'last').mkdir()
    (tmp_path / 'last' / 'meta.json').write_text(json.dumps({'epoch': 11}))
    assert [(e, p.name) for e, p in kept_checkpoints(tmp_path)] == [
        (2, 'epoch_002'), (10, 'epoch_010'), (11, 'last')]


def test_kept_checkpoints_of_chosen_epochs_and_an_epoch_not_kept(tmp_path):
    (tmp_path / 'metrics.jsonl').write_text('')
    for name in ('epoch_002', 'epoch_004', 'epoch_006'):
        (tmp_path / name).mkdir()
    (tmp_path / 'last').mkdir()
    (tmp_path / 'last' / 'meta.json').write_text(json.dumps({'epoch': 7}))
    assert [e for e, _ in kept_checkpoints(tmp_path, [7, 4])] == [4, 7]
    with pytest.raises(FileNotFoundError, match=r'epoch\(s\) 3, 5 .*kept: 2, 4, 6, 7'):
        kept_checkpoints(tmp_path, [3, 4, 5])


@pytest.mark.parametrize('epochs', ['8,x', '0,2', ','])
def test_curve_refuses_epochs_it_cannot_read(epochs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['curve', str(tmp_path), '--epochs', epochs])
    assert exit_info.value.code == 2
    assert '--epochs takes' in capsys.readouterr().err


def test_curve_names_an_epoch_it_did_not_keep_before_any_episode(tmp_path, capsys):
    (tmp_path / 'metrics.jsonl').write_text('')
    (tmp_path / 'epoch_004').mkdir()
    assert main(['curve', str(tmp_path), '--epochs', '4,10', '--episodes', '1']) == 2
    assert 'no checkpoint kept for epoch(s) 10' in capsys.readouterr().err


def test_keep_checks_then_curve_evaluates_each_check_on_fresh_seeds(bags, tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--data', str(bags), '--out', str(run), '--batch-size', '8',
                 '--config', 'clip_rt_tiny', '--epochs', '2', '--eval-every', '1',
                 '--eval-tasks', 'reach_block', '--eval-episodes', '1', '--threads', '1',
                 '--no-progress', '--keep-checks']) == 0
    for epoch in (1, 2):  # the model only: no optimizer state kept twice
        kept = run / f'epoch_{epoch:03d}'
        assert {p.name for p in kept.iterdir()} == {
            'config.json', 'model.safetensors', 'vocabulary.yaml', 'meta.json'}
        assert json.loads((kept / 'meta.json').read_text())['epoch'] == epoch
    out = tmp_path / 'curve.json'
    assert main(['curve', str(run), '--tasks', 'reach_block', '--episodes', '2',
                 '--seed', '10000', '--json', str(out), '--no-progress']) == 0
    curve = json.loads(out.read_text())
    rows = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines()]
    assert [p['epoch'] for p in curve['points']] == [1, 2]  # last/ is epoch 2: not twice
    for point, row in zip(curve['points'], rows):
        assert point['train_minutes'] == row['train_minutes']
        assert point['check'] == row['closed_loop_success']
        assert 0.0 <= point['success']['templates'] <= 1.0
        assert point['per_task']['templates'].keys() == {'reach_block'}
    assert (run / 'curve.png').stat().st_size > 1000
    printed = capsys.readouterr().out
    assert 'to 90% with templates:' in printed and 'epoch 2 (' in printed


def test_curve_refuses_a_directory_that_is_not_a_run(tmp_path):
    assert main(['curve', str(tmp_path), '--episodes', '1']) == 2

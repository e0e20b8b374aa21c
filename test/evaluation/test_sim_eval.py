import json

import pytest

from contrastive_vla.cli import main
from contrastive_vla.evaluation.sim_eval import evaluate_in_sim, wilson_interval


def test_wilson_interval():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and 0.92 < lo < 0.95
    lo, hi = wilson_interval(5, 10)
    assert lo < 0.5 < hi


def test_evaluate_in_sim_summary_schema():
    summary = evaluate_in_sim('expert', ['reach_block', 'lift_block'], 2, seed=3,
                              progress=False)
    assert summary['episodes'] == 4
    assert summary['success_rate'] == 1.0
    for task in ('reach_block', 'lift_block'):
        row = summary['per_task'][task]
        assert row['episodes'] == 2 and row['success_rate'] == 1.0
        assert len(row['ci95']) == 2


def test_random_policy_is_worse_than_the_expert():
    summary = evaluate_in_sim('random', ['lift_block'], 5, progress=False)
    assert summary['success_rate'] < 0.5


def test_eval_sim_cli_writes_json_and_video(tmp_path, capsys):
    out = tmp_path / 'eval.json'
    code = main(['eval-sim', '--policy', 'expert', '--tasks', 'reach_block', '--episodes', '2',
                 '--json', str(out), '--video', str(tmp_path / 'videos'), '--no-progress'])
    assert code == 0
    data = json.loads(out.read_text())
    assert {'success_rate', 'per_task', 'episodes'} <= set(data)
    assert data['per_task']['reach_block']['episodes'] == 2
    videos = list((tmp_path / 'videos').glob('*.mp4'))
    assert len(videos) == 1 and videos[0].stat().st_size > 10_000
    assert 'reach_block' in capsys.readouterr().out


def test_eval_sim_with_other_wordings(tmp_path):
    wordings = tmp_path / 'w.yaml'
    wordings.write_text('reach_block: ["hover right over the {block} cube"]\n')
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', 'expert', '--tasks', 'reach_block', '--episodes', '1',
                 '--instructions', str(wordings), '--json', str(out), '--no-progress']) == 0
    result = json.loads(out.read_text())['episode_results'][0]
    assert result['instruction'].startswith('hover right over the ')


@pytest.mark.parametrize('args', [['--tasks', 'nope'], ['--episodes', '0'], ['--seed', '-4']])
def test_eval_sim_bad_arguments(args, capsys):
    assert main(['eval-sim', '--no-progress', *args]) == 2
    assert 'error' in capsys.readouterr().err

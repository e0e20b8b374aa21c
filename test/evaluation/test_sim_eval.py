import json

import numpy as np
import pytest
import yaml

from contrastive_vla.cli import main
from contrastive_vla.core.resources import config_path
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


def test_eval_sim_says_the_colours_with_the_packaged_synonyms(tmp_path):
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', 'expert', '--tasks', 'reach_block', '--episodes', '2',
                 '--instructions', str(config_path('instructions_colour_synonyms.yaml')),
                 '--json', str(out), '--no-progress']) == 0
    synonyms = yaml.safe_load(config_path('instructions_colour_synonyms.yaml').read_text())
    words = {w for ws in synonyms['colour_words'].values() for w in ws}
    for result in json.loads(out.read_text())['episode_results']:
        assert result['success'] and set(result['instruction'].split()) & words


def test_eval_sim_compares_policies_and_wordings_on_the_same_episodes(tmp_path, capsys):
    wordings = tmp_path / 'reworded.yaml'
    wordings.write_text('reach_block: ["hover right over the {block} cube"]\n')
    table, out = tmp_path / 'table.md', tmp_path / 'runs.json'
    assert main(['eval-sim', '--policy', 'expert', '--policy', 'random', '--tasks',
                 'reach_block,lift_block', '--episodes', '2', '--seed', '40',
                 '--instructions', 'templates', '--instructions', str(wordings),
                 '--markdown', str(table), '--json', str(out), '--no-progress']) == 0
    runs = json.loads(out.read_text())
    assert [(r['policy'], r['instructions']) for r in runs] == [
        ('expert', 'task templates'), ('expert', str(wordings)),
        ('random', 'task templates'), ('random', str(wordings))]
    for run in runs:  # the same episodes for every column
        assert [(e['task'], e['seed']) for e in run['episode_results']] == [
            (t, s) for t in ('lift_block', 'reach_block') for s in (40, 41)]
    reworded = [e['instruction'] for e in runs[1]['episode_results'] if e['task'] ==
                'reach_block']
    assert all(i.startswith('hover right over the ') for i in reworded)
    lines = table.read_text().splitlines()
    assert lines[0] == ('| task | expert, templates | expert, reworded | random, templates | '
                        'random, reworded |')
    for line, task in zip(lines[2:4], ('reach_block', 'lift_block')):
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert cells == [task] + [f'{r["per_task"][task]["success_rate"]:.0%}' for r in runs]
    assert lines[4].startswith('| **all** (4 episodes) | **100.0%**')


@pytest.mark.parametrize('args', [['--tasks', 'nope'], ['--episodes', '0'], ['--seed', '-4']])
def test_eval_sim_bad_arguments(args, capsys):
    assert main(['eval-sim', '--no-progress', *args]) == 2
    assert 'error' in capsys.readouterr().err


class Thrashing:
    """Up 10 cm, down 10 cm, ... the policy that cannot find its block."""

    name = 'thrashing'
    needs_images = False

    def __init__(self):
        from contrastive_vla.core.vocabulary import PrimitiveVocabulary

        self.vocab, self.n = PrimitiveVocabulary.load(), 0

    def reset(self, task=None, seed=None):
        self.n = 0

    def act(self, observation):
        self.n += 1
        return self.vocab['up_10cm' if self.n % 2 else 'down_10cm']


class Pressing(Thrashing):
    """Down 5 cm, again and again: into the table, then against the workspace floor."""

    name = 'pressing'

    def act(self, observation):
        return self.vocab['down_5cm']


class ScoringThrasher(Thrashing):
    """The thrashing policy as a model is one: it keeps the scores of its decision."""

    name = 'scoring-thrasher'

    def act(self, observation):
        primitive = super().act(observation)
        self.last_scores = np.eye(len(self.vocab))[primitive.index]
        return primitive


@pytest.fixture
def thrashing(monkeypatch):
    from contrastive_vla.evaluation import sim_eval

    real = sim_eval.make_policy
    fakes = {'thrashing': Thrashing, 'pressing': Pressing, 'scoring': ScoringThrasher}
    monkeypatch.setattr(sim_eval, 'make_policy',
                        lambda spec: fakes[spec]() if spec in fakes else real(spec))


def test_the_stuck_detector_is_reported_on_successes_and_failures(thrashing):
    summary = evaluate_in_sim('expert', ['reach_block'], 2, progress=False)
    stuck = summary['stuck']
    assert (stuck['fired'], stuck['fired_on_success'], stuck['successes']) == (0, 0, 2)
    assert stuck['mode'] == 'observe' and stuck['success_rate_if_stopped'] == 1.0
    summary = evaluate_in_sim('thrashing', ['reach_block'], 2, progress=False)
    stuck = summary['stuck']
    assert (stuck['fired_on_failure'], stuck['failures'], stuck['fired_on_success']) == (2, 2, 0)
    assert stuck['fired_at_decision']['median'] == 8 and stuck['rules'] == {'cycling': 2}
    row = summary['episode_results'][0]
    assert row['stuck_at'] == 8 and 'up_10cm/down_10cm' in row['stuck_reason']
    assert row['steps'] == 30  # observed only: the episode ran to its step budget


def test_stuck_sees_pushing_against_the_workspace_boundary(thrashing):
    # the rollout feeds the detector each step's outcome and message, as the VLA node
    # feeds it primitive_status: 'clamped' without motion, again and again, is stuck
    row = evaluate_in_sim('pressing', ['reach_block'], 1, progress=False,
                          stuck='stop')['episode_results'][0]
    assert row['stuck_reason'].startswith('pushing against the workspace boundary: the last 8 '
                                          'decisions (down_5cm) did not move the arm'), row
    assert row['statuses'].get('clamped', 0) >= 8 and row['steps'] == row['stuck_at'] < 30


def test_stuck_stop_ends_the_episode_and_off_runs_without(thrashing):
    summary = evaluate_in_sim('thrashing', ['reach_block'], 1, progress=False, stuck='stop')
    assert summary['episode_results'][0]['steps'] == 8 and summary['stuck']['fired'] == 1
    summary = evaluate_in_sim('thrashing', ['reach_block'], 1, progress=False, stuck='off')
    assert 'stuck' not in summary and summary['episode_results'][0]['steps'] == 30


def test_eval_sim_cli_reports_the_stuck_detector_and_says_a_fixed_instruction(tmp_path,
                                                                               capsys):
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', 'expert', '--tasks', 'reach_block', '--episodes', '1',
                 '--instruction', 'reach the {blue} block', '--json', str(out),
                 '--no-progress']) == 0
    assert 'stuck detector (observe): fired on 0 of 1 successful' in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data['stuck']['fired'] == 0
    assert data['episode_results'][0]['instruction'] == 'reach the {blue} block'
    assert data['episode_results'][0]['blocks']


@pytest.mark.parametrize('trace', [False, True])
def test_the_loop_breaker_ends_a_scoring_policys_cycle(thrashing, trace):
    summary = evaluate_in_sim('scoring', ['reach_block'], 1, progress=False, loops='on',
                              trace=trace)
    row = summary['episode_results'][0]
    # up, down, then not up again from where it began; every return is passed over
    assert row['primitives'][:2] == ['up_10cm', 'down_10cm'] and row['primitives'][2] != 'up_10cm'
    assert not any(row['primitives'][i:i + 3] == ['up_10cm', 'down_10cm', 'up_10cm']
                   for i in range(len(row['primitives'])))
    assert summary['loops']['decisions_changed'] == row['loops_broken'] > 0
    assert summary['loops']['episodes_changed'] == 1
    # still stuck (it gets nowhere), but no longer by repeating a cycle
    assert row['stuck_reason'] and not row['stuck_reason'].startswith('cycling')
    off = evaluate_in_sim('scoring', ['reach_block'], 1, progress=False, loops='off')
    assert 'loops' not in off and off['episode_results'][0]['stuck_reason'].startswith('cycling')
    # a policy without scores (the scripted ones) runs as it is
    plain = evaluate_in_sim('thrashing', ['reach_block'], 1, progress=False, loops='on')
    assert plain['loops']['decisions_changed'] == 0


def test_eval_sim_cli_loops(tmp_path, capsys):
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', 'expert', '--tasks', 'reach_block', '--episodes', '1',
                 '--loops', 'on', '--json', str(out), '--no-progress']) == 0
    assert 'loop breaker: changed 0 decisions in 0 of 1 episodes' in capsys.readouterr().out
    assert json.loads(out.read_text())['loops']['episodes'] == 1

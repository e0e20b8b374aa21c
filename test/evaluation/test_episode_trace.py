"""The episode trace: the expert's decision and the gripper beside each of a policy's, and how
failed episodes end."""

import json

import numpy as np
import pytest

from contrastive_vla.cli import main
from contrastive_vla.evaluation.episode_trace import (
    EpisodeTracer,
    format_traces,
    summarise_traces,
)
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.expert import ScriptedExpert
from contrastive_vla.sim.rollout import run_episode


@pytest.fixture(scope='module')
def env():
    with TabletopEnv(image_size=(48, 48)) as e:
        yield e


class ClosesWhereItIs:
    """Closes the gripper wherever the arm is, then keeps saying "close": the failure the
    trace was built to find (a closed, empty gripper the policy never opens)."""

    name = 'closes-where-it-is'
    needs_images = False

    def __init__(self, vocab):
        action = np.zeros(8)
        action[7] = -1.0
        self.close = vocab.discretize(action)

    def reset(self, task=None, seed=None):
        pass

    def act(self, observation):
        return self.close


def _row(env, tracer, task, seed, max_steps=None):
    result = run_episode(env, tracer, task, seed, max_steps=max_steps, render=False)
    return result.to_dict() | {'trace': tracer.trace}


def test_the_expert_traced_agrees_with_itself_and_holds_the_block_after_its_grasp(env):
    tracer = EpisodeTracer(ScriptedExpert.greedy())
    row = _row(env, tracer, 'lift_block', 0)
    assert row['success'] and len(row['trace']) == row['steps'] == len(row['primitives'])
    assert [t['expert'] for t in row['trace']] == row['primitives']
    grippers = [t['gripper'] for t in row['trace']]
    grasp = row['primitives'].index('close_gripper')
    assert set(grippers[:grasp + 1]) == {'open'} and set(grippers[grasp + 1:]) == {'holding'}
    summary = summarise_traces([row])['lift_block']
    assert summary['failed'] == 0 and summary['expert_agreement'] == 1.0
    assert summary['first_departure_step_median'] is None


def test_a_failure_with_the_gripper_closed_on_nothing_is_named_with_the_experts_open(env):
    rows = [_row(env, EpisodeTracer(ClosesWhereItIs(env.vocab)), 'lift_block', seed,
                 max_steps=4) for seed in (0, 1)]
    for row in rows:
        assert not row['success']
        assert [t['gripper'] for t in row['trace']] == ['open'] + ['closed_empty'] * 3
        assert row['trace'][-1]['expert'] == 'open_gripper'
    summary = summarise_traces(rows)['lift_block']
    assert summary['failed'] == 2 and summary['ended'] == {
        'open': 0, 'holding': 0, 'closed_empty': 2}
    assert summary['ended_expert_would_open'] == 2
    assert summary['first_departure_step_median'] == 0.0  # the expert first moves the arm
    assert summary['expert_agreement'] == 0.0
    table = format_traces({'lift_block': summary})
    assert 'closed empty' in table and 'lift_block' in table and 'step 0' in table


def test_the_expert_lets_go_of_a_stacked_block_within_its_tolerance_of_the_bases_centre(env):
    from contrastive_vla.sim.expert import XY_TOLERANCE

    tracer = EpisodeTracer(ScriptedExpert.greedy())
    row = _row(env, tracer, 'stack_blocks', 0)
    assert row['success'] and all('off_target_cm' in t for t in row['trace'])
    releases = summarise_traces([row])['stack_blocks']['releases']
    assert releases['failed'] == {'releases': 0, 'median_cm': None, 'max_cm': None}
    assert releases['successful']['releases'] == row['primitives'].count('open_gripper') >= 1
    assert 0.0 <= releases['successful']['max_cm'] <= XY_TOLERANCE * 100
    # a task that lets go over nothing has no offsets and no releases
    lift = _row(env, EpisodeTracer(ScriptedExpert.greedy()), 'lift_block', 0)
    assert 'off_target_cm' not in lift['trace'][0]
    assert summarise_traces([lift])['lift_block']['releases'] is None


def test_releases_are_split_by_outcome_and_only_count_letting_go_of_the_held_block():
    def step(primitive, gripper, off):
        return primitive, {'expert': 'down_5cm', 'gripper': gripper, 'off_target_cm': off}

    def row(success, steps):
        return {'task': 'stack_blocks', 'success': success,
                'primitives': [p for p, _ in steps], 'trace': [t for _, t in steps]}

    rows = [row(True, [step('down_5cm', 'holding', 0.4), step('open_gripper', 'holding', 0.6)]),
            row(False, [step('open_gripper', 'holding', 2.0), step('open_gripper', 'open', 9.0),
                        step('close_gripper', 'open', 4.0), step('open_gripper', 'holding',
                                                                 3.0)])]
    summary = summarise_traces(rows)['stack_blocks']
    assert summary['releases'] == {
        'successful': {'releases': 1, 'median_cm': 0.6, 'max_cm': 0.6},
        'failed': {'releases': 2, 'median_cm': 2.5, 'max_cm': 3.0}}
    table = format_traces({'stack_blocks': summary})
    assert 'failed episodes 2 releases, median 2.5 cm, max 3.0 cm' in table


def test_eval_sim_trace_prints_the_endings_and_writes_each_episodes_trace(tmp_path, capsys):
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', 'random', '--tasks', 'lift_block', '--episodes', '2',
                 '--trace', '--json', str(out), '--no-progress']) == 0
    summary = json.loads(out.read_text())
    for episode in summary['episode_results']:
        assert len(episode['trace']) == episode['steps']
        assert {t['gripper'] for t in episode['trace']} <= {'open', 'holding', 'closed_empty'}
    failed = sum(not e['success'] for e in summary['episode_results'])
    assert summary['failure_trace']['lift_block']['failed'] == failed
    assert 'how failed episodes ended' in capsys.readouterr().out

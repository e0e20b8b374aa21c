"""The language probe: renaming a referent changes a listening policy's decisions only."""

import json

import pytest
import torch

from contrastive_vla.cli import main
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.evaluation.language_probe import (
    LanguageProbe,
    ProbeError,
    summarise_probe,
)
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import ClipRTPolicy, save_checkpoint
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.rollout import run_episode


@pytest.fixture(scope='module')
def env():
    with TabletopEnv() as e:
        yield e


def _tiny_policy(listening):
    torch.manual_seed(0)
    model = ClipRT(ModelConfig.load('clip_rt_tiny'))
    if listening:  # FiLM starts at zero (the instruction changes nothing) until trained
        torch.manual_seed(1)
        for layer in model.visual.films:
            torch.nn.init.normal_(layer.weight, std=1.0)
    return ClipRTPolicy(model.eval(), PrimitiveVocabulary.load())


def _probe(env, listening, task='place_in_zone'):
    probe = LanguageProbe(_tiny_policy(listening))
    stats = []
    for seed in range(3):
        run_episode(env, probe, task, seed, max_steps=6)
        stats.append({'task': task, 'probe': probe.stats})
    return summarise_probe(stats)[task]


def test_a_policy_that_ignores_the_instruction_never_changes_its_mind(env):
    row = _probe(env, listening=False)
    changes = row['decision_changes_when_renamed']
    assert changes['block/fetch']['probed'] == 18 and changes['zone/fetch']['probed'] == 18
    assert all(cell['rate'] == 0.0 for cell in changes.values())
    assert row['expert_agreement']['fetch']['decisions'] == 18


def test_a_policy_conditioned_on_the_instruction_does(env):
    changes = _probe(env, listening=True)['decision_changes_when_renamed']
    assert changes['block/fetch']['rate'] > 0 and changes['zone/fetch']['rate'] > 0


def test_the_probe_needs_a_model_that_scores_instructions(env, capsys):
    from contrastive_vla.sim.expert import ScriptedExpert

    with pytest.raises(ProbeError, match='trained model'):
        LanguageProbe(ScriptedExpert())
    assert main(['eval-sim', '--policy', 'random', '--probe', '--no-progress']) == 2
    assert '--probe needs a trained model' in capsys.readouterr().err


def test_eval_sim_probe_writes_the_rates_also_under_the_trace(tmp_path, capsys):
    policy = _tiny_policy(listening=True)
    save_checkpoint(tmp_path / 'tiny', policy.model, policy.vocab)
    out = tmp_path / 'eval.json'
    assert main(['eval-sim', '--policy', str(tmp_path / 'tiny'), '--tasks', 'stack_blocks',
                 '--episodes', '1', '--probe', '--trace', '--json', str(out),
                 '--no-progress']) == 0
    assert json.loads(out.read_text())['failure_trace']['stack_blocks']['decisions'] > 0
    row = json.loads(out.read_text())['language_probe']['stack_blocks']
    assert {'block/fetch', 'base/fetch'} <= set(row['decision_changes_when_renamed'])
    assert 'probe' not in json.loads(out.read_text())['episode_results'][0]
    assert 'language probe' in capsys.readouterr().out

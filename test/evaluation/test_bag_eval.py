"""eval-bag: deterministic scores on simulator bags, partial reports for bad bags."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from contrastive_vla.data.demos import collect
from contrastive_vla.evaluation.bag_eval import evaluate_bags, plot_confusion, same_direction
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import ClipRTPolicy, save_checkpoint


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    out = tmp_path_factory.mktemp('bags')
    collect(['reach_block'], 2, out, seed=5, workers=1, image_size=(64, 64), progress=False,
            augment=False)
    return out


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory, vocab):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp('m') / 'tiny',
                           ClipRT(ModelConfig.load('clip_rt_tiny')), vocab)


def test_scores_every_recorded_step_deterministically(bags, model_dir):
    policy = ClipRTPolicy.load(model_dir)
    a = evaluate_bags([bags], policy, progress=False)
    b = evaluate_bags([bags], policy, progress=False)
    assert a['steps'] > 5 and a['episodes_scored'] == 2 and not a['partial']
    for key in ('accuracy', 'top3_accuracy', 'direction_accuracy'):
        assert a[key] == b[key] and 0.0 <= a[key] <= 1.0
    assert a['accuracy'] <= a['top3_accuracy'] and a['accuracy'] <= a['direction_accuracy']
    np.testing.assert_array_equal(a['confusion'], b['confusion'])
    assert a['confusion'].sum() == a['steps']
    assert sum(r['steps'] for r in a['per_episode']) == a['steps']
    assert a['latency_ms']['p50'] > 0 and a['steps_per_s'] > 0


def test_an_expert_oracle_scores_perfectly(bags, vocab):
    """A 'policy' that ranks the recorded primitive first gets 1.0: the scorer pairs each
    recorded primitive with its own step."""
    from contrastive_vla.bag import find_bags
    from contrastive_vla.data.dataset import read_episode

    truth = []
    for bag in find_bags([bags]):
        truth.extend(read_episode(bag, vocab, 32)[0]['labels'])

    class Oracle:
        cfg = ModelConfig.load('clip_rt_tiny')

        def __init__(self):
            self.vocab, self.i = vocab, 0

        def rank(self, image, instruction, top_k=None, state=None):
            label = truth[self.i]
            self.i += 1
            return [(vocab[label], 1.0)] + [(p, 0.0) for p in vocab if p.index != label][:2]

    result = evaluate_bags([bags], Oracle(), progress=False)
    assert result['accuracy'] == 1.0 and result['direction_accuracy'] == 1.0
    assert result['magnitude_error']['mean'] == 0.0


def test_bad_bags_give_a_partial_report(bags, model_dir, tmp_path):
    mixed = tmp_path / 'mixed'
    shutil.copytree(bags, mixed, ignore=shutil.ignore_patterns('.cache'))
    victim = sorted(p for p in mixed.iterdir() if p.is_dir())[0]
    for f in victim.glob('*.mcap'):
        f.write_bytes(f.read_bytes()[:200])            # truncated
    result = evaluate_bags([mixed], ClipRTPolicy.load(model_dir), progress=False)
    assert result['partial'] and result['episodes_scored'] == 1
    assert any(victim.name in s for s in result['skipped'])
    for f in mixed.iterdir():
        if f.is_dir() and f != victim:
            shutil.rmtree(f)
    with pytest.raises(ValueError, match='no step of any bag'):
        evaluate_bags([mixed], ClipRTPolicy.load(model_dir), progress=False)


def test_direction_rule(vocab):
    left5 = vocab.from_phrase('move the arm to the left by five centimeters')
    left1 = vocab.from_phrase('move the arm to the left by one centimeter')
    right1 = vocab.from_phrase('move the arm to the right by one centimeter')
    assert same_direction(left5, left1) and not same_direction(left1, right1)


def test_cli_writes_json_and_confusion_png(bags, model_dir, tmp_path, vocab):
    out = tmp_path / 'r.json'
    run = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'eval-bag', str(bags),
                          '--model', str(model_dir), '--json', str(out), '--report',
                          str(tmp_path / 'rep'), '--no-progress'],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert {'steps', 'accuracy', 'top3_accuracy', 'direction_accuracy', 'latency_ms'} <= set(data)
    assert (tmp_path / 'rep' / 'confusion.png').stat().st_size > 1000
    missing = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'eval-bag',
                              str(tmp_path / 'nothing'), '--model', str(model_dir)],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and 'no such bag or directory' in missing.stderr
    plot_confusion(np.eye(len(vocab), dtype=int), vocab, tmp_path / 'eye.png')

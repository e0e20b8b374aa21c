"""TrainingConfig: one declaration per option (command line, defaults, checks), and the
epoch shuffle it seeds."""

import argparse
from dataclasses import fields
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastive_vla.core.resources import config_path
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.train import Trainer


def _parse(*argv):
    parser = TrainingConfig.add_arguments(argparse.ArgumentParser())
    return TrainingConfig.from_args(parser.parse_args(['--data', 'bags', '--out', 'run', *argv]))


def test_the_command_line_defaults_are_the_dataclass_defaults():
    assert _parse() == TrainingConfig(data=['bags'], out='run')


def test_every_field_is_an_option_with_help():
    config = _parse('--config', 'clip_rt_tiny', '--epochs', '3', '--batch-size', '8',
                    '--lr', '5e-4', '--loss', 'bce', '--eval-tasks', 'none', '--seed', '7',
                    '--no-image-augmentation', '--no-progress', '--resume',
                    '--instruction-noise', '0.5', '--warmup-steps', '10')
    assert (config.epochs, config.batch_size, config.lr, config.loss, config.seed) == (
        3, 8, 5e-4, 'bce', 7)
    assert not config.augment_images and not config.progress and config.resume
    assert config.instruction_noise == 0.5 and config.warmup_steps == 10
    assert config.eval_task_ids() is None
    assert all(f.metadata['help'] for f in fields(TrainingConfig))


@pytest.mark.parametrize('overrides, message', [
    ({'epochs': 0}, '--epochs must be positive, got 0.'),
    ({'batch_size': 1}, '--batch-size must be at least 2, got 1.'),
    ({'lr': -1.0}, '--lr must be positive, got -1.0.'),
    ({'val_fraction': 1.0}, '--val-fraction must be in [0, 1), got 1.0.'),
    ({'instruction_noise': 1.5}, '--instruction-noise must be in [0, 1], got 1.5.'),
    ({'epochs': 2.5}, '--epochs must be an integer, got 2.5.'),
    ({'loss': 'mse'}, "--loss must be one of ('ce', 'bce'), got 'mse'."),
    ({'threads': 0}, '--threads must be positive, got 0.'),
    ({'val_episodes': '/nonexistent/val.txt'}, '--val-episodes: no file'),
    ({'eval_tasks': 'fly_to_the_moon'}, 'unknown task id'),
])
def test_bad_values_are_refused_with_a_sentence(overrides, message):
    with pytest.raises(ValueError) as error:
        TrainingConfig(data=['bags'], **overrides)
    assert message in str(error.value)


def test_the_config_is_recorded_as_json():
    config = TrainingConfig(data=Path('bags'), out=Path('runs/x'), init=Path('ckpt'))
    recorded = json.loads(json.dumps(config.to_dict()))
    assert recorded['data'] == ['bags'] and recorded['out'] == 'runs/x'
    assert TrainingConfig(**recorded) == config


def _dataset(n=32):
    from contrastive_vla.data.dataset import DemoDataset

    images = np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return DemoDataset(images=images, labels=np.full(n, 2), instructions=['go'] * n,
                       supervisions=[None] * n, episode_index=np.arange(n) % 4,
                       step_index=np.zeros(n, int), episodes=[f'ep{i}' for i in range(4)])


def _visited(tmp_path, seed):
    """The sample indices a two-epoch run with ``seed`` trains on, in order."""
    torch.manual_seed(0)
    model = ClipRT(ModelConfig.load('clip_rt_tiny'))
    data = _dataset()
    config = TrainingConfig(out=tmp_path / f'seed{seed}', epochs=2, batch_size=8, seed=seed,
                            eval_tasks='none', progress=False)
    trainer = Trainer(model, PrimitiveVocabulary.load(), data,
                      data.subset(np.zeros(len(data), bool)), config)
    visited = []
    make = trainer.batches.make

    def recording(idx, dataset, part=None):
        visited.extend(int(i) for i in idx)
        return make(idx, dataset, part)

    trainer.batches.make = recording
    trainer.fit()
    return visited


def test_the_epoch_shuffle_follows_the_seed(tmp_path):
    first = _visited(tmp_path, seed=3)
    assert sorted(first) == sorted(list(range(32)) * 2)  # every sample once per epoch
    assert first[:32] != first[32:]  # reshuffled each epoch
    assert _visited(tmp_path, seed=3) == first
    assert _visited(tmp_path, seed=4) != first


# ---- recipes -------------------------------------------------------------------------------
def test_a_recipe_reaches_the_config_and_the_command_line_overrides_it():
    from contrastive_vla.training.config import load_recipe

    recipe = load_recipe('large')
    config = _parse('--recipe', 'large')
    for name, value in recipe['train'].items():
        assert getattr(config, name) == value, name
    assert config.recipe == 'large' and config.config == 'clip_rt_small_tokens'
    assert config.instruction_noise == 0.5 and config.init is None  # from scratch
    # an option given wins, even when it says the dataclass default
    config = _parse('--recipe', 'large', '--epochs', '1', '--instruction-noise', '0',
                    '--config', 'clip_rt_tiny')
    assert (config.epochs, config.instruction_noise, config.config) == (1, 0.0, 'clip_rt_tiny')
    assert config.lr == recipe['train']['lr'] and config.recipe == 'large'
    assert TrainingConfig.from_recipe('large', data=['bags'], epochs=2).epochs == 2
    # a boolean the recipe turns on can be turned off
    assert recipe['train']['compile'] is True
    assert _parse('--recipe', 'large', '--no-compile').compile is False
    assert _parse('--recipe', 'large').compile is True


@pytest.mark.parametrize('name', sorted(p.stem for p in config_path('recipes').glob('*.yaml')))
def test_each_packaged_recipe_names_a_model_config_and_a_collect_command(name):
    from contrastive_vla.commands import collect
    from contrastive_vla.training.config import load_recipe

    recipe = load_recipe(name)
    config = _parse('--recipe', name)
    assert config.init is None and config.instruction_noise > 0  # from scratch, noised
    ModelConfig.load(config.config)  # the architecture it trains is packaged
    settings = recipe['collect']
    argv = ['--out', f'data/{name}']
    for key, value in settings.items():
        flag = '--' + key.replace('_', '-')
        argv += [flag] if value is True else [flag, str(value)]
    parser = argparse.ArgumentParser()
    collect.add_arguments(parser)
    args = parser.parse_args(argv)
    assert args.relabel and args.augment == 'recovery' and args.tasks == 'all'


@pytest.mark.parametrize('text, message', [
    ('train:\n  epoch: 3\n', 'unknown training setting "epoch" (did you mean "epochs"?)'),
    ('train:\n  data: [bags]\n', '"data" is said by each run (--data), not by a recipe'),
    ('trian:\n  epochs: 3\n', 'unknown section(s) trian'),
    ('train:\n  epochs: 0\n', '--epochs must be positive, got 0.'),
])
def test_a_bad_recipe_is_refused_in_one_line(tmp_path, text, message):
    (tmp_path / 'mine.yaml').write_text(text)
    with pytest.raises(ValueError) as error:
        _parse('--recipe', str(tmp_path / 'mine.yaml'))
    assert message in str(error.value) and '\n' not in str(error.value)


def test_an_unknown_recipe_names_the_packaged_ones():
    with pytest.raises(FileNotFoundError, match='no recipe .*packaged recipes: fast, large'):
        _parse('--recipe', 'no_such_recipe')

"""The training data module's pure parts, on synthetic datasets (bags: test_demos.py)."""

import numpy as np
import pytest

from contrastive_vla.data.dataset import DemoDataset, episode_group
from contrastive_vla.data.demos import RELABEL_SUFFIX


def _dataset(names, steps=3):
    n = len(names) * steps
    return DemoDataset(images=np.zeros((n, 4, 4, 3), np.uint8), labels=np.zeros(n, np.int64),
                       instructions=['x'] * n, supervisions=[None] * n,
                       episode_index=np.repeat(np.arange(len(names)), steps),
                       step_index=np.tile(np.arange(steps), len(names)), episodes=list(names))


def _held_out(part):
    return {part.episodes[e] for e in np.unique(part.episode_index)}


def test_a_twin_is_held_out_with_its_original_or_trained_with_it():
    names = []
    for i in range(40):
        names.append(f'place_in_zone_s{i}')
        if i % 2 == 0:
            names.append(f'place_in_zone_s{i}{RELABEL_SUFFIX}')
    data = _dataset(names)
    for seed in range(5):
        train, val = data.split_by_episode(0.2, seed=seed)
        held, trained = _held_out(val), _held_out(train)
        assert held and not held & trained
        assert len(held) >= round(0.2 * len(names))
        for name in held | trained:
            side = held if name in held else trained
            partner = (episode_group(name) if name.endswith(RELABEL_SUFFIX)
                       else name + RELABEL_SUFFIX)
            assert partner not in names or partner in side


def test_without_twins_the_split_is_a_plain_permutation_of_the_episodes():
    names = [f'reach_block_s{i}' for i in range(30)]
    train, val = _dataset(names).split_by_episode(0.1, seed=3)
    expected = {names[e] for e in np.random.default_rng(3).permutation(30)[:3]}
    assert _held_out(val) == expected and len(_held_out(train)) == 27


def test_episode_group_strips_only_the_twin_suffix():
    assert episode_group(f'stack_blocks_s7{RELABEL_SUFFIX}') == 'stack_blocks_s7'
    assert episode_group('stack_blocks_s7') == 'stack_blocks_s7'
    assert episode_group('relabel_me') == 'relabel_me'


def test_a_named_split_holds_out_exactly_those_episodes():
    names = [f'lift_block_s{i}' for i in range(10)]
    data = _dataset(names)
    train, val = data.split_by_names(['lift_block_s3', 'lift_block_s7', 'elsewhere_s1'])
    assert _held_out(val) == {'lift_block_s3', 'lift_block_s7'}
    assert len(train) + len(val) == len(data)
    with pytest.raises(ValueError, match='none of the 1 held-out'):
        data.split_by_names(['elsewhere_s1'])

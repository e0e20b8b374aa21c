"""Shared by the training tests: a few simulator bags (two tasks, relabelled twins, 48 px)."""

import pytest

from contrastive_vla.data.demos import collect


@pytest.fixture(scope='session')
def bags(tmp_path_factory):
    out = tmp_path_factory.mktemp('bags')
    collect(['reach_block', 'place_in_zone'], 2, out, seed=11, workers=1, image_size=(48, 48),
            progress=False, augment='none', relabel=True)
    return out

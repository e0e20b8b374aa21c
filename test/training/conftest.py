"""Shared by the training tests: a few simulator bags (two tasks, relabelled twins, 48 px), and
the check that a stopped and resumed run trained what the uninterrupted one did."""

import pytest

from contrastive_vla.data.demos import collect


@pytest.fixture(scope='session')
def bags(tmp_path_factory):
    out = tmp_path_factory.mktemp('bags')
    collect(['reach_block', 'place_in_zone'], 2, out, seed=11, workers=1, image_size=(48, 48),
            progress=False, augment='none', relabel=True)
    return out


@pytest.fixture
def assert_resumed_as_whole():
    """A function (whole, resumed): the Trainer ``resumed`` (stopped, resumed and fitted)
    ends with the weights, step and per-row losses of ``whole``, the run never stopped."""
    import torch

    from contrastive_vla.training.curve import metrics_rows

    def check(whole, resumed):
        assert resumed.step == whole.step
        expected = whole.model.state_dict()
        for name, value in resumed.model.state_dict().items():
            assert torch.equal(value, expected[name]), name
        losses = [[row['loss'] for row in metrics_rows(t.out_dir / 'metrics.jsonl')]
                  for t in (whole, resumed)]
        assert losses[1] == losses[0]

    return check

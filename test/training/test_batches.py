"""BatchMaker: a batch's tensors and the random draws behind them (the generator's state
restores a run's next batch exactly; compiled steps see one prompt row per sample)."""

import numpy as np
import torch

from contrastive_vla.data.dataset import load_demonstrations
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.preprocess import images_to_tensor
from contrastive_vla.training.batches import BatchMaker
from contrastive_vla.training.config import TrainingConfig


def _maker(bags, vocab, tmp_path, **options):
    data = load_demonstrations([bags], vocab, 32, progress=False)
    model = ClipRT(ModelConfig.load('clip_rt_tiny'))
    config = TrainingConfig(data=[str(bags)], out=str(tmp_path / 'run'), batch_size=8,
                            eval_tasks='none', **options)
    return BatchMaker(model, vocab, data, data.subset(np.zeros(len(data), bool)), config), data


def _equal(a, b):
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
        else:
            assert x == y


def test_the_generator_state_gives_the_same_next_batch(bags, vocab, tmp_path):
    maker, data = _maker(bags, vocab, tmp_path, instruction_noise=0.5)
    idx = np.arange(8)
    first = maker.make(idx, data)
    assert first.images.shape == (8, 3, 32, 32) and first.share == 1.0
    second = maker.make(idx, data)
    # augmentation and rewording are drawn afresh for each batch
    assert not torch.equal(first.images, second.images)
    maker.set_rng_state(first.rng_after)
    _equal(maker.make(idx, data), second)


def test_a_share_of_the_batch_is_drawn_with_the_whole_batch(bags, vocab, tmp_path):
    maker, data = _maker(bags, vocab, tmp_path)
    idx = np.arange(8)
    state = maker.rng_state()
    whole = maker.make(idx, data)
    maker.set_rng_state(state)
    half = maker.make(idx, data, part=np.arange(4, 8))
    assert half.share == 0.5
    assert torch.equal(half.images, whole.images[4:])
    assert torch.equal(half.labels, whole.labels[4:])
    assert half.rng_after == whole.rng_after  # every process draws for the whole batch


def test_without_augmentation_the_images_are_as_recorded(bags, vocab, tmp_path):
    maker, data = _maker(bags, vocab, tmp_path, augment_images=False)
    idx = np.arange(5, 13)
    assert torch.equal(maker.make(idx, data).images, images_to_tensor(data.image_batch(idx)))


def test_a_compiled_step_sees_one_prompt_row_per_sample(bags, vocab, tmp_path):
    for compiled in (False, True):
        maker, data = _maker(bags, vocab, tmp_path, compile=compiled)
        idx = np.zeros(8, int)  # eight samples of one instruction
        batch = maker.make(idx, data)
        assert len(batch.instructions) == (8 if compiled else 1)
        assert torch.equal(batch.inverse, torch.zeros(8, dtype=torch.long))
        assert torch.equal(batch.instructions[0], batch.instructions[-1])

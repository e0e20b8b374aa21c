import sys

import pytest

from contrastive_vla.commands import bench as bench_command
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.evaluation.bench import bench_models
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import save_checkpoint


@pytest.fixture
def tiny_checkpoint(tmp_path):
    return save_checkpoint(tmp_path / 'tiny', ClipRT(ModelConfig.load('clip_rt_tiny')),
                           PrimitiveVocabulary.load())


def test_model_bench_times_the_checkpoint_and_each_config(tiny_checkpoint):
    result = bench_models(tiny_checkpoint, ['clip_rt_tiny'], n_cached=5, image_shape=(48, 64))
    assert set(result) == {'default', 'clip_rt_tiny'}
    default = result['default']
    assert default['model'] == str(tiny_checkpoint) and default['camera'] == '64x48'
    assert 0 < default['p50_ms'] <= default['p99_ms']
    assert default['samples'] == 5 and default['parameters_m'] > 0
    assert 'random weights' in result['clip_rt_tiny']['model']


def test_bench_device_without_cuda_is_a_one_line_refusal(monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA: the refusal is for machines without it')
    with pytest.raises(SystemExit) as stop:
        bench_command._device('cuda')
    assert str(stop.value).startswith('--device: CUDA is not available')
    with pytest.raises(SystemExit, match='not a torch device'):
        bench_command._device('gpu7')
    assert bench_command._device('cpu') == 'cpu'
    assert sys.modules['contrastive_vla.model.policy']  # the check is the loader's own

import pytest

from contrastive_vla.cli import main
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


def test_bench_device_without_cuda_is_a_one_line_refusal(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA: the refusal is for machines without it')
    assert main(['bench', '--only', 'model', '--device', 'cuda']) == 2
    err = capsys.readouterr().err
    assert err.startswith('contrastive-vla bench: error: CUDA is not available')
    assert len(err.strip().splitlines()) == 1
    assert main(['bench', '--only', 'model', '--device', 'gpu7']) == 2
    assert 'not a torch device' in capsys.readouterr().err

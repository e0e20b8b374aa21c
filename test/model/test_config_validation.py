"""A model config with a wrong type or an absurd size is refused with one sentence, before
anything is allocated; a CUDA device on a CPU-only torch is refused with one line."""

import json

import pytest
import torch

from contrastive_vla.cli import main
from contrastive_vla.core.resources import models_dir
from contrastive_vla.model.config import ConfigError, ModelConfig

TINY = {'name': 'tiny', 'embed_dim': 32, 'image_size': 32,
        'vision': {'type': 'film_cnn', 'channels': [8, 16]},
        'text': {'type': 'open_clip', 'context_length': 32, 'width': 32, 'heads': 2,
                 'layers': 1}}


@pytest.mark.parametrize('change, words', [
    ({'embed_dim': '256'}, 'embed_dim must be an integer'),
    ({'embed_dim': 10 ** 9}, 'embed_dim must be an integer in'),
    ({'embed_dim': True}, 'embed_dim must be an integer'),
    ({'init_logit_scale': 'x'}, 'init_logit_scale must be a number'),
    ({'max_instruction_chars': 0}, 'max_instruction_chars must be an integer in'),
    ({'token_attention': 'yes'}, 'token_attention must be true or false'),
    ({'prompt': 5}, 'prompt must be a string'),
    ({'vision': 'film_cnn'}, 'vision must be a JSON object'),
    ({'vision': {'type': 'film_cnn', 'channels': [8, '16']}}, 'vision.channels must be'),
    ({'vision': {'type': 'film_cnn', 'channels': [8] * 1000}}, 'vision.channels must be'),
    ({'vision': {'type': 'film_cnn', 'channels': [10 ** 9]}}, 'vision.channels must be'),
    ({'text': dict(TINY['text'], layers=10 ** 9)}, 'text.layers must be an integer in'),
    ({'text': dict(TINY['text'], width=10 ** 9)}, 'text.width must be an integer in'),
    ({'text': dict(TINY['text'], width='128')}, 'text.width must be an integer in'),
    ({'text': dict(TINY['text'], heads=3)}, 'text.width (32) must be a multiple of text.heads'),
    ({'text': dict(TINY['text'], context_length=10 ** 9)}, 'text.context_length must be'),
])
def test_a_bad_value_is_refused_in_one_sentence(change, words):
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_dict(dict(TINY, **change), source='bad.json')
    message = str(info.value)
    assert words in message and '\n' not in message and message.endswith('.'), message


def test_the_packaged_configs_still_load():
    names = sorted(path.stem for path in models_dir().glob('*.json'))
    assert {'clip_rt_small', 'clip_rt_small_tokens', 'clip_rt_small_minilm_tokens'} <= set(names)
    for name in names:
        ModelConfig.load(name)
    ModelConfig.from_dict(TINY)


def test_train_with_a_string_embed_dim_gives_one_line(tmp_path, capsys):
    config = tmp_path / 'bad.json'
    config.write_text(json.dumps(dict(TINY, embed_dim='256')))
    (tmp_path / 'bags').mkdir()
    code = main(['train', '--data', str(tmp_path / 'bags'), '--out', str(tmp_path / 'run'),
                 '--config', str(config), '--eval-tasks', 'none', '--no-progress'])
    err = capsys.readouterr().err
    assert code == 2 and 'Traceback' not in err
    assert 'embed_dim must be an integer' in err


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a torch without CUDA')
def test_a_cuda_device_without_cuda_is_one_clear_line(tiny_checkpoint):
    from contrastive_vla.model.policy import ClipRTPolicy, check_device

    with pytest.raises(ValueError, match='^CUDA is not available in this torch build; use '
                                         'device cpu'):
        check_device('cuda')
    with pytest.raises(ValueError, match='use device cpu'):
        ClipRTPolicy.load(tiny_checkpoint, device='cuda:1')
    check_device('cpu')
    with pytest.raises(ValueError, match="device 'gpu'"):
        check_device('gpu')


@pytest.fixture
def tiny_checkpoint(tmp_path):
    from contrastive_vla.core.vocabulary import PrimitiveVocabulary
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.policy import save_checkpoint

    cfg = ModelConfig.from_dict(TINY)
    return save_checkpoint(tmp_path / 'ckpt', ClipRT(cfg), PrimitiveVocabulary.load())

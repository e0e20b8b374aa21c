"""training/throughput.py and `contrastive-vla bench --only train`: the training step's rate
per setting, on real bags."""

import json

import pytest

from contrastive_vla.cli import main
from contrastive_vla.training.throughput import StepSetting, parse_settings


def test_settings_parse_and_bad_ones_say_the_form():
    assert parse_settings('float32:0:compile, bfloat16:32,bfloat16') == [
        StepSetting('float32', 0, True), StepSetting('bfloat16', 32, False),
        StepSetting('bfloat16', 0, False)]
    assert StepSetting('bfloat16', 32, True).label() == 'bfloat16:32:compile'
    for bad in ('float16', 'bfloat16:-1', 'float32:x', 'float32:0:fast', 'float32:1:compile:2'):
        with pytest.raises(ValueError, match=r'PRECISION\[:VARIANTS\]\[:compile\]'):
            parse_settings(bad)
    with pytest.raises(ValueError, match='no step settings'):
        parse_settings(' , ')


def test_bench_times_each_setting_on_the_bags(bags, tmp_path, capsys):
    """A tiny recipe with the frozen MiniLM tower: every setting trains, the rewordings of
    every instruction are encoded before the timing and then remembered."""
    config = {
        'name': 'tiny_minilm_bench', 'embed_dim': 32, 'image_size': 32, 'fusion': 'film',
        'head': 'rank', 'prompt': '{instruction}',
        'vision': {'type': 'film_cnn', 'channels': [8, 16, 16, 16]},
        'text': {'type': 'sentence_encoder', 'model': 'all-MiniLM-L6-v2',
                 'context_length': 32}}
    (tmp_path / 'tiny.json').write_text(json.dumps(config))
    (tmp_path / 'recipe.yaml').write_text(
        f'train:\n  config: {tmp_path / "tiny.json"}\n  batch_size: 8\n'
        '  instruction_noise: 0.5\n  threads: 1\n')
    out = tmp_path / 'bench.json'
    assert main(['bench', '--only', 'train', '--train-data', str(bags), '--recipe',
                 str(tmp_path / 'recipe.yaml'), '--train-settings', 'float32:0,bfloat16:3',
                 '--train-steps', '3', '--train-warmup', '1', '--threads', '1',
                 '--json', str(out)]) == 0
    train = json.loads(out.read_text())['train']
    assert train['config'] == 'tiny_minilm_bench' and train['batch_size'] == 8
    assert [row['setting'] for row in train['settings']] == ['float32:0', 'bfloat16:3']
    assert all(row['samples_per_s'] > 0 for row in train['settings'])
    fresh, banked = train['settings']
    # the fixed rewordings are encoded before the timing (how long that takes is the
    # machine's business, reported, not asserted)
    assert fresh['variants_encoded'] == 0 and fresh['variants_encoded_s'] == 0
    assert banked['variants_encoded'] > train['instructions']
    assert banked['variants_encoded_s'] > 0  # a MiniLM pass over them is not free
    # the rewordings of every instruction (each differs from it), and the primitives' texts
    assert banked['remembered_sentences'] > train['instructions']
    assert '"samples_per_s"' in capsys.readouterr().out


def test_bench_train_without_bags_is_a_clear_error():
    with pytest.raises(SystemExit, match='--train-data'):
        main(['bench', '--only', 'train'])

import subprocess
import sys

import yaml

from contrastive_vla.cli import COMMANDS, main


def run_cli(*args):
    return subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', *args],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_every_subcommand():
    result = run_cli('--help')
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_vocab_lookup_and_discretize(capsys):
    assert main(['vocab', 'lookup', 'Move the arm to the LEFT by 5 cm.']) == 0
    assert 'left_5cm' in capsys.readouterr().out
    assert main(['vocab', 'discretize', '0', '0', '-0.12', '0', '0', '0', '0']) == 0
    assert 'down_10cm' in capsys.readouterr().out


def test_user_errors_are_one_line_messages_with_nonzero_exit(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump({'primitives': [
        {'name': 'a', 'axis': 'y', 'phrase': 'go', 'delta': [0, 1, 0]}]}))
    result = run_cli('vocab', 'check', str(bad))
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr
    assert str(bad) in result.stderr and 'delta has 3 numbers' in result.stderr
    result = run_cli('vocab', 'lookup', 'do a backflip')
    assert result.returncode == 2 and 'do a backflip' in result.stderr


def test_vocab_check_accepts_the_shipped_file(capsys):
    from contrastive_vla.core.resources import config_path

    assert main(['vocab', 'check', str(config_path('primitives.yaml'))]) == 0
    assert '58 primitives' in capsys.readouterr().out


def test_doctor_loads_the_model_and_fails_on_a_corrupt_one(tmp_path, capsys):
    from contrastive_vla.core.vocabulary import PrimitiveVocabulary
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.model.policy import save_checkpoint

    checkpoint = save_checkpoint(tmp_path / 'ckpt', ClipRT(ModelConfig.load('clip_rt_tiny')),
                                 PrimitiveVocabulary.load())
    assert main(['doctor', '--no-render', '--model', str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert f'ok   model {checkpoint}: clip_rt_tiny' in out and '58 primitives' in out
    (checkpoint / 'model.safetensors').write_bytes(b'not safetensors')
    assert main(['doctor', '--no-render', '--model', str(checkpoint)]) == 1
    out = capsys.readouterr().out
    assert f'FAIL model {checkpoint}: CheckpointError' in out and '1 check(s) failed' in out

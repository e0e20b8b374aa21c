"""The lint gate (ROS 2 style: 99 columns, single quotes), also run by ``colcon test``."""

from pathlib import Path
import shutil
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = shutil.which('ruff', path=str(Path(sys.executable).parent)) or shutil.which('ruff')
    if ruff is None:
        pytest.skip('ruff is not installed (pip install ruff); scripts/test.sh installs it')
    result = subprocess.run([ruff, 'check', 'contrastive_vla', 'test', 'launch', 'scripts',
                             'setup.py'], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

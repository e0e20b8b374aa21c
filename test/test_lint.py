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


def test_rooms_import_only_downwards():
    """The import contract (.importlinter) holds: each room imports only from the layers below."""
    lint = shutil.which('lint-imports', path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip('import-linter is not installed; scripts/setup.sh installs it')
    result = subprocess.run([lint, '--no-cache'], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_no_module_over_600_lines():
    long = {str(p.relative_to(REPO)): n for p in (REPO / 'contrastive_vla').rglob('*.py')
            if (n := len(p.read_text(encoding='utf-8').splitlines())) > 600}
    assert not long, f'split these modules (over 600 lines): {long}'

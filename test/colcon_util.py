"""The robot's build path, shared by the packaging tests and the tests that drive the package
with ROS 2's own CLI: copy the repository into a colcon workspace and ``colcon build`` it."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent

# what a user's checkout has but a colcon workspace must not copy (caches, builds, the venv)
IGNORED = ('.venv', '.git', 'build', 'install', 'log', 'runs', 'data', 'outputs', '__pycache__',
           '*.egg-info', '.cache', '.pytest_cache', '.ruff_cache', '.hypothesis',
           '.import_linter_cache')


def colcon_build(work, timeout=300):
    """Build the package with colcon in the workspace ``work`` (created; src/ holds a copy of
    the repository) and return ``work/install/contrastive_vla``. Skips when colcon is not
    installed beside this interpreter."""
    colcon = Path(sys.executable).parent / 'colcon'
    if not colcon.exists():
        pytest.skip('colcon is not installed in this environment')
    work = Path(work)
    src = work / 'src' / 'contrastive_vla'
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*IGNORED))
    result = subprocess.run([str(colcon), 'build', '--base-paths', 'src'], cwd=work,
                            env=dict(os.environ), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return work / 'install' / 'contrastive_vla'


def site_packages(install):
    """The colcon install's site-packages (where the built contrastive_vla lies)."""
    return next(Path(install).glob('lib/python3*/site-packages'))

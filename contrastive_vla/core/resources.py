"""Where the package's shared data (config/, models/, launch/) lives, however it was installed.

- source checkout or editable install: next to the package directory;
- colcon / ``ros2 run``: the ament index (``share/contrastive_vla``);
- ``pip install`` (non-editable): ``<prefix>/share/contrastive_vla`` from setup.py data_files.
``CONTRASTIVE_VLA_SHARE`` overrides all of them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
import sys

PACKAGE = 'contrastive_vla'


def _looks_like_share(path: Path) -> bool:
    return (path / 'config' / 'primitives.yaml').is_file()


@functools.lru_cache(maxsize=None)
def share_dir() -> Path:
    """Return the directory holding ``config/``, ``models/`` and ``launch/``."""
    override = os.environ.get('CONTRASTIVE_VLA_SHARE')
    if override:
        path = Path(override)
        if not _looks_like_share(path):
            raise FileNotFoundError(
                f'CONTRASTIVE_VLA_SHARE={override} has no config/primitives.yaml')
        return path
    candidates = [Path(__file__).resolve().parents[2]]
    try:
        # optional: present only where ROS is installed
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # noqa: BLE001 - ament index missing or package not registered
        pass
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)
    for path in candidates:
        if _looks_like_share(path):
            return path
    raise FileNotFoundError(
        'cannot find the contrastive_vla share directory (config/primitives.yaml); looked in '
        + ', '.join(str(p) for p in candidates) + '. Set CONTRASTIVE_VLA_SHARE.')


def config_path(name: str) -> Path:
    """Path of a file in the package's ``config/`` directory."""
    return share_dir() / 'config' / name


def models_dir() -> Path:
    return share_dir() / 'models'

"""Compatibility shims for the pip-only install (no ROS distribution, CPU torch).

The only one so far: PyPI has no CPU build of torchvision, and the CUDA build's compiled
extension cannot load next to CPU torch. torchvision then fails at import time because its
meta registrations refer to ``torchvision::nms``/``torchvision::qnms`` schemas that only the
extension defines. Defining those two schemas first lets transforms and models import; only
torchvision's compiled ops (nms, roi_align, ...) stay unavailable, and open_clip does not use
them. Where the extension loads (a robot with a matching torchvision) everything is a no-op.
"""

import glob
import importlib.abc
import importlib.util
import os
import sys

_MISSING_SCHEMAS = {
    'nms': 'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms': 'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
}
_state = {'done': False, 'library': None}


def _extension_loads(package_dir):
    # deferred: torch takes seconds to import; only this path needs it
    import torch

    for path in glob.glob(os.path.join(package_dir, '_C*.so')) + glob.glob(
            os.path.join(package_dir, '_C*.pyd')):
        try:
            torch.ops.load_library(path)
            return True
        except (OSError, ImportError, RuntimeError):
            return False
    return False


def ensure_torchvision_importable():
    """Make ``import torchvision`` (and so ``import open_clip``) work; idempotent."""
    if _state['done'] or 'torchvision' in sys.modules:
        _state['done'] = True
        return
    _state['done'] = True
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return
    if _extension_loads(list(spec.submodule_search_locations)[0]):
        return
    # deferred: torch takes seconds to import; only this path needs it
    import torch

    library = torch.library.Library('torchvision', 'DEF')
    for schema in _MISSING_SCHEMAS.values():
        library.define(schema)
    _state['library'] = library  # keep alive: the schemas vanish with the Library object


class _TorchvisionImportHook(importlib.abc.MetaPathFinder):
    """Runs :func:`ensure_torchvision_importable` just before torchvision is first imported."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'torchvision':
            sys.meta_path.remove(self)
            ensure_torchvision_importable()
        return None


def install_torchvision_import_hook():
    """Called from a ``.pth`` file that scripts/setup.sh writes into the project venv only."""
    if not any(isinstance(f, _TorchvisionImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionImportHook())

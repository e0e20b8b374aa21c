"""Bag I/O and image conversion for datasets: ``bags`` (rosbag2 via rosbags), ``images``.

Names are imported lazily, so ``import contrastive_vla.data.images`` does not need rosbags.
"""

import importlib

_EXPORTS = {
    'BagError': 'bags',
    'BagMessage': 'bags',
    'BagReader': 'bags',
    'BagWriter': 'bags',
    'TopicInfo': 'bags',
    'bool_msg': 'bags',
    'camera_info_msg': 'bags',
    'float64_array_msg': 'bags',
    'image_msg': 'bags',
    'joint_state_msg': 'bags',
    'kilted_typestore': 'bags',
    'make_header': 'bags',
    'open_bag': 'bags',
    'stamp_to_ns': 'bags',
    'string_msg': 'bags',
    'ImageError': 'images',
    'center_crop': 'images',
    'compressed_to_rgb': 'images',
    'image_to_rgb': 'images',
    'resize_rgb': 'images',
    'rgb_to_image_fields': 'images',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'{__name__}.{module}'), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))

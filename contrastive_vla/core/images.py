"""sensor_msgs Image / CompressedImage <-> numpy RGB arrays, strict about malformed messages.

Everything here works on plain attributes (``height``, ``width``, ``encoding``, ``step``,
``is_bigendian``, ``data``; ``format`` for compressed images), so the same functions accept
rclpy messages (``data`` is an ``array.array('B')``) and rosbags messages (``data`` is a numpy
``uint8`` array). No cv_bridge: the PyPI one is a ROS 1 file that breaks on numpy 2.

Arrays are always ``H x W x 3`` ``uint8`` in RGB channel order (the order CLIP expects); pixel
``[0, 0]`` is the top-left pixel of the camera image (row-major, as in the message).
"""

from __future__ import annotations

import array
from collections.abc import Sequence
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    'ENCODINGS',
    'ImageError',
    'center_crop',
    'compressed_to_rgb',
    'image_to_rgb',
    'pinhole_intrinsics',
    'resize_rgb',
    'resize_square',
    'rgb_to_image_fields',
]


class ImageError(ValueError):
    """An image message (or array) that cannot be converted; the message says why."""


# encoding -> (channels, bytes per channel). 8UC3 is OpenCV's channel layout, which is BGR.
ENCODINGS = {
    'rgb8': (3, 1),
    'bgr8': (3, 1),
    'rgba8': (4, 1),
    'bgra8': (4, 1),
    'mono8': (1, 1),
    '8UC1': (1, 1),
    '8UC3': (3, 1),
    'mono16': (1, 2),
    '16UC1': (1, 2),
}

# Channel indices that turn the decoded channels into R, G, B.
_TO_RGB = {
    'rgb8': (0, 1, 2),
    'bgr8': (2, 1, 0),
    '8UC3': (2, 1, 0),
    'rgba8': (0, 1, 2),
    'bgra8': (2, 1, 0),
}


def _as_uint8_buffer(data, what):
    """Return message ``data`` as a flat read-only uint8 numpy view (no copy where possible)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageError(f'{what}: data has dtype {data.dtype}, expected uint8')
        return data.reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview, array.array)):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, Sequence):
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageError(f'{what}: data is not a sequence of bytes ({exc})') from None
    raise ImageError(f'{what}: data of type {type(data).__name__} is not a byte buffer')


def image_to_rgb(msg: Any, copy: bool = True) -> NDArray[np.uint8]:
    """Convert a ``sensor_msgs/msg/Image`` to a contiguous ``H x W x 3`` uint8 RGB array.

    Supported encodings: rgb8, bgr8, rgba8, bgra8 (alpha dropped), mono8 / 8UC1 (grey copied
    to all three channels), mono16 / 16UC1 (linearly scaled from the full 16-bit range,
    0 -> 0 and 65535 -> 255, honouring ``is_bigendian``; a depth image in millimetres therefore
    looks dark, which is fine for a preview but not a depth colormap) and 8UC3, which carries
    no colour order and is treated as bgr8 because that is OpenCV's (and so most drivers')
    layout. Row padding (``step > width * bytes_per_pixel``) is removed.

    ``copy=False``: an rgb8 image without row padding is returned as a view of ``msg.data``
    (no copy: the VLA node's hot path, where a 640x480 copy costs a fraction of a millisecond);
    the caller must then neither write to it nor need it after ``msg.data`` changes. Other
    encodings are converted (copied) either way.

    Raises:
        ImageError: unknown encoding, zero width/height, ``step`` too small for the width,
            or ``len(data) != step * height``; the message carries the numbers.

    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise ImageError(
            f'image encoding {encoding!r} is not supported; supported encodings: '
            f'{", ".join(ENCODINGS)}')
    channels, depth = ENCODINGS[encoding]
    what = f'{encoding} image {width}x{height} (step {step})'
    if height <= 0 or width <= 0:
        raise ImageError(f'{what}: width and height must be positive')
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise ImageError(
            f'{what}: step {step} is smaller than width * bytes per pixel = '
            f'{width} * {channels * depth} = {row_bytes}')
    buf = _as_uint8_buffer(msg.data, what)
    if buf.size != step * height:
        raise ImageError(
            f'{what}: data has {buf.size} bytes, expected step * height = {step} * {height} = '
            f'{step * height}')
    rows = buf.reshape(height, step)[:, :row_bytes]
    if depth == 2:
        dtype = np.dtype('>u2' if msg.is_bigendian else '<u2')
        values = np.ascontiguousarray(rows).view(dtype).reshape(height, width).astype(np.uint32)
        grey = ((values * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    pixels = rows.reshape(height, width, channels)
    if encoding == 'rgb8':
        # already R, G, B: a copy only when asked (or to drop row padding)
        return np.array(pixels, copy=True) if copy else np.ascontiguousarray(pixels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, list(_TO_RGB[encoding])])


def compressed_to_rgb(msg: Any) -> NDArray[np.uint8]:
    """Decode a ``sensor_msgs/msg/CompressedImage`` (JPEG or PNG) to ``H x W x 3`` uint8 RGB.

    ``format`` may be plain (``'jpeg'``, ``'png'``) or image_transport's long form
    (``'rgb8; jpeg compressed bgr8'``); an empty format lets OpenCV sniff the data. OpenCV
    decodes to BGR, which is converted to RGB. Grey images are expanded to three channels and
    16-bit PNGs reduced to 8 bit by OpenCV.

    Raises:
        ImageError: ``compressedDepth`` or another unsupported format, empty or undecodable
            data.

    """
    # deferred: OpenCV loads only where frames are decoded or resized
    import cv2

    fmt = str(getattr(msg, 'format', '') or '')
    lowered = fmt.lower()
    if 'compresseddepth' in lowered:
        raise ImageError(
            f'compressed image format {fmt!r}: compressedDepth images carry a depth header '
            'and are not supported; expected jpeg or png')
    if lowered and not any(name in lowered for name in ('jpeg', 'jpg', 'png')):
        raise ImageError(f'compressed image format {fmt!r} is not supported; expected jpeg or '
                         'png (optionally in the "rgb8; jpeg compressed bgr8" form)')
    buf = _as_uint8_buffer(msg.data, f'compressed image ({fmt or "no format"})')
    if buf.size == 0:
        raise ImageError(f'compressed image ({fmt or "no format"}) has no data')
    bgr = cv2.imdecode(np.ascontiguousarray(buf), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(
            f'compressed image ({fmt or "no format"}, {buf.size} bytes) could not be decoded')
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _check_rgb(rgb, what='rgb'):
    if not isinstance(rgb, np.ndarray):
        raise ImageError(f'{what} must be a numpy array, got {type(rgb).__name__}')
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f'{what} must have shape H x W x 3, got {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise ImageError(f'{what} must have dtype uint8, got {rgb.dtype}')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError(f'{what} must not be empty, got shape {rgb.shape}')


def rgb_to_image_fields(rgb: NDArray[np.uint8], *, data_as: str = 'array') -> dict[str, Any]:
    """Fields of an rgb8 ``sensor_msgs/msg/Image`` for an ``H x W x 3`` uint8 RGB array.

    Returns ``dict(height, width, encoding='rgb8', is_bigendian=0, step=3 * width, data)``;
    add a ``header`` and pass it as keyword arguments to the message constructor. The two ROS
    Python stacks want different buffers for ``data``, so pick one with ``data_as``:

    - ``'array'`` (default): ``array.array('B')``, the fast path of rclpy's generated
      messages (``sensor_msgs.msg.Image(**fields)``) with or without field checks.
    - ``'numpy'``: a flat uint8 ``numpy`` array, which rosbags' CDR serializer requires
      (``contrastive_vla.bag.image_msg`` uses this).

    Raises:
        ImageError: not an ``H x W x 3`` uint8 array, or an unknown ``data_as``.

    """
    _check_rgb(rgb)
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    flat = np.ascontiguousarray(rgb).reshape(-1)
    if data_as == 'array':
        data = array.array('B', flat.tobytes())
    elif data_as == 'numpy':
        data = flat.copy()
    else:
        raise ImageError(f"data_as must be 'array' (rclpy) or 'numpy' (rosbags), got {data_as!r}")
    return {
        'height': height,
        'width': width,
        'encoding': 'rgb8',
        'is_bigendian': 0,
        'step': 3 * width,
        'data': data,
    }


def _size_hw(size, what):
    if isinstance(size, (int, np.integer)):
        height = width = int(size)
    else:
        try:
            height, width = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ImageError(f'{what} must be an int or (height, width), got {size!r}') from None
    if height <= 0 or width <= 0:
        raise ImageError(f'{what} must be positive, got {size!r}')
    return height, width


def resize_rgb(rgb: NDArray[np.uint8], size: int | Sequence[int]) -> NDArray[np.uint8]:
    """Resize an RGB array to ``size`` = ``(height, width)`` or an int for a square.

    Uses ``cv2.INTER_AREA``, which averages source pixels and so does not alias when shrinking
    camera frames to model resolution (e.g. 640x480 -> 224x224). The aspect ratio is not
    kept; use :func:`center_crop` first for that.
    """
    # deferred: OpenCV loads only where frames are decoded or resized
    import cv2

    _check_rgb(rgb)
    height, width = _size_hw(size, 'resize size')
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb).copy()
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=cv2.INTER_AREA)


def center_crop(rgb: NDArray[np.uint8],
                size: int | Sequence[int] | None = None) -> NDArray[np.uint8]:
    """Crop the centre ``size`` = ``(height, width)`` (int: square) out of an RGB array.

    ``size=None`` takes the largest centred square, the usual step before resizing a 4:3
    camera frame to a square model input. Odd margins leave the extra pixel at the bottom /
    right. Returns a contiguous copy.

    Raises:
        ImageError: the crop is larger than the image.

    """
    _check_rgb(rgb)
    in_h, in_w = rgb.shape[:2]
    if size is None:
        height = width = min(in_h, in_w)
    else:
        height, width = _size_hw(size, 'crop size')
    if height > in_h or width > in_w:
        raise ImageError(f'crop {height}x{width} (HxW) is larger than the image {in_h}x{in_w}')
    top = (in_h - height) // 2
    left = (in_w - width) // 2
    return np.ascontiguousarray(rgb[top:top + height, left:left + width]).copy()


def resize_square(image: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """The model's view of a frame: the largest centred square, resized to ``size`` x ``size``
    with ``cv2.INTER_AREA``. No copy when the frame already has that shape (the hot path of
    the VLA node)."""
    # deferred: OpenCV loads only where frames are decoded or resized
    import cv2

    h, w = image.shape[:2]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        image = image[top:top + side, left:left + side]
    if image.shape[0] != size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def pinhole_intrinsics(width: int, height: int, fov_degrees: float,
                       vertical: bool = False) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels of an ideal pinhole camera with the given field of view
    (horizontal, or vertical as MuJoCo's ``fovy``); the principal point is the image centre in
    ROS / OpenCV pixel coordinates (pixel centres at integers)."""
    span = height if vertical else width
    f = 0.5 * span / math.tan(math.radians(fov_degrees) / 2)
    return f, f, (width - 1) / 2, (height - 1) / 2

"""Frame sources for the camera node: a V4L2 camera, a video file, a directory of images.

``open_source(spec)`` picks the kind from the spec (a number or ``/dev/video*`` is a camera, a
directory is an image sequence, anything else a video file). ``read()`` returns an RGB uint8
frame or raises ``CameraUnavailableError`` (device gone, file unreadable) /
``EndOfStreamError`` (a file or directory played to its end with ``loop`` off). No ROS here.
"""

from pathlib import Path

import cv2
import numpy as np

from contrastive_vla.core.images import resize_rgb

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')


class CameraUnavailableError(RuntimeError):
    """The source cannot give a frame now (it may come back)."""


class EndOfStreamError(RuntimeError):
    """A finite source reached its end and does not loop."""


def _bgr_to_rgb(frame, what):
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
        raise CameraUnavailableError(f'{what} returned no frame')
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class CaptureSource:
    """cv2.VideoCapture over a V4L2 device or a video file."""

    def __init__(self, target, is_device, loop=True):
        self.target, self.is_device, self.loop = target, is_device, loop
        self.name = f'camera {target}' if is_device else f'video {target}'
        self.cap = None
        self.open()

    def open(self):
        self.close()
        cap = (cv2.VideoCapture(self.target, cv2.CAP_V4L2) if self.is_device
               else cv2.VideoCapture(str(self.target)))
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailableError(f'cannot open {self.name}')
        self.cap = cap

    def read(self):
        if self.cap is None:
            self.open()
        ok, frame = self.cap.read()
        if not ok and not self.is_device:
            if not self.loop:
                raise EndOfStreamError(f'{self.name} ended')
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            self.close()
            raise CameraUnavailableError(f'{self.name} gave no frame (disconnected?)')
        return _bgr_to_rgb(frame, self.name)

    def close(self):
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class ImageDirectorySource:
    """Images of a directory in natural name order, one per read."""

    def __init__(self, directory, loop=True):
        self.directory, self.loop = Path(directory), loop
        self.name = f'image directory {directory}'
        self.files = sorted((p for p in self.directory.iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: p.name)
        if not self.files:
            raise CameraUnavailableError(
                f'{self.name} has no images ({", ".join(IMAGE_SUFFIXES)})')
        self.index = 0

    def read(self):
        if self.index >= len(self.files):
            if not self.loop:
                raise EndOfStreamError(f'{self.name}: all {len(self.files)} images played')
            self.index = 0
        path = self.files[self.index]
        self.index += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise CameraUnavailableError(f'{path} is not a readable image')
        return _bgr_to_rgb(frame, str(path))

    def close(self):
        pass


def open_source(spec, loop=True):
    spec = str(spec).strip()
    if not spec:
        raise ValueError('no camera source given: set the "source" parameter to a camera index '
                         '(0), a device (/dev/video0), a video file or a directory of images')
    if spec.isdigit():
        return CaptureSource(int(spec), True)
    if spec.startswith('/dev/video'):
        return CaptureSource(spec, True)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageDirectorySource(path, loop)
    if not path.exists():
        raise CameraUnavailableError(f'camera source {spec!r} does not exist')
    return CaptureSource(path, False, loop)


def crop_and_resize(rgb, crop=(0, 0, 0, 0), width=0, height=0):
    """Crop (x, y, w, h; zeros = none) then resize (0 = keep that side's size)."""
    x, y, cw, ch = (int(v) for v in crop)
    if cw > 0 and ch > 0:
        h, w = rgb.shape[:2]
        if x < 0 or y < 0 or x + cw > w or y + ch > h:
            raise ValueError(f'crop {x, y, cw, ch} does not fit in a {w}x{h} frame')
        rgb = rgb[y:y + ch, x:x + cw]
    if width > 0 or height > 0:
        h, w = rgb.shape[:2]
        size = (int(width) or w, int(height) or h)
        if size != (w, h):
            rgb = resize_rgb(rgb, (size[1], size[0]))
    return np.ascontiguousarray(rgb)

import cv2
import numpy as np
import pytest

from contrastive_vla.data import camera


def frames(n=3, size=(48, 64)):
    out = []
    for i in range(n):
        f = np.zeros(size + (3,), np.uint8)
        f[..., 0] = 40 * (i + 1)   # red grows frame by frame
        out.append(f)
    return out


def test_image_directory_plays_in_order_and_loops(tmp_path):
    for i, f in enumerate(frames()):
        cv2.imwrite(str(tmp_path / f'{i:03d}.png'), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (tmp_path / 'notes.txt').write_text('not an image')
    src = camera.open_source(str(tmp_path), loop=True)
    reds = [int(src.read()[0, 0, 0]) for _ in range(4)]
    assert reds == [40, 80, 120, 40]
    once = camera.open_source(str(tmp_path), loop=False)
    for _ in range(3):
        once.read()
    with pytest.raises(camera.EndOfStreamError):
        once.read()


def test_video_file_source(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30, (64, 48))
    for f in frames(5):
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    src = camera.open_source(str(path), loop=False)
    first = src.read()
    assert first.shape == (48, 64, 3) and abs(int(first[0, 0, 0]) - 40) < 10
    for _ in range(4):
        src.read()
    with pytest.raises(camera.EndOfStreamError):
        src.read()
    looping = camera.open_source(str(path), loop=True)
    assert len([looping.read() for _ in range(7)]) == 7


def test_missing_and_empty_sources_are_clear(tmp_path):
    with pytest.raises(camera.CameraUnavailableError, match='does not exist'):
        camera.open_source(str(tmp_path / 'nope.mp4'))
    with pytest.raises(camera.CameraUnavailableError, match='has no images'):
        camera.open_source(str(tmp_path))
    with pytest.raises(ValueError, match='no camera source'):
        camera.open_source('  ')
    with pytest.raises(camera.CameraUnavailableError, match='cannot open'):
        camera.open_source('/dev/video99')


def test_crop_and_resize():
    rgb = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    assert camera.crop_and_resize(rgb).shape == (48, 64, 3)
    assert camera.crop_and_resize(rgb, (8, 4, 32, 32)).shape == (32, 32, 3)
    assert camera.crop_and_resize(rgb, (0, 0, 0, 0), 32, 24).shape == (24, 32, 3)
    assert camera.crop_and_resize(rgb, width=32).shape == (48, 32, 3)
    with pytest.raises(ValueError, match='does not fit'):
        camera.crop_and_resize(rgb, (40, 0, 32, 32))

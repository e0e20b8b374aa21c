"""Image message <-> numpy conversion: every encoding, padding, bad input, compressed images."""

import array
from types import SimpleNamespace

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
import numpy as np
import pytest

from contrastive_vla.core.images import (
    ENCODINGS,
    ImageError,
    center_crop,
    compressed_to_rgb,
    image_to_rgb,
    resize_rgb,
    rgb_to_image_fields,
)

# 2 rows x 3 columns, every channel value distinct, so a channel swap or transposition shows.
RGB = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                [[10, 20, 30], [40, 50, 60], [70, 80, 90]]], dtype=np.uint8)
GREY = np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8)


def image(encoding, pixels, step=None, pad_byte=0xEE, is_bigendian=0, data_type=bytes):
    """A duck-typed sensor_msgs/Image with ``pixels`` (H x W [x C], any dtype) row-padded."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).view(np.uint8).reshape(height, -1)
    row_bytes = rows.shape[1]
    step = row_bytes if step is None else step
    padded = np.full((height, step), pad_byte, dtype=np.uint8)
    padded[:, :row_bytes] = rows
    flat = padded.reshape(-1)
    if data_type is bytes:
        data = flat.tobytes()
    elif data_type is array.array:
        data = array.array('B', flat.tobytes())
    elif data_type is list:
        data = flat.tolist()
    else:
        data = flat
    return SimpleNamespace(height=height, width=width, encoding=encoding, step=step,
                           is_bigendian=is_bigendian, data=data)


@pytest.mark.parametrize('data_type', [bytes, array.array, list, np.ndarray])
def test_rgb8_keeps_pixels_for_every_buffer_type(data_type):
    out = image_to_rgb(image('rgb8', RGB, data_type=data_type))
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert out.flags['C_CONTIGUOUS'] and out.flags['WRITEABLE']
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize('encoding,pixels', [
    ('bgr8', RGB[:, :, ::-1]),
    ('8UC3', RGB[:, :, ::-1]),
    ('rgba8', np.concatenate([RGB, np.full((2, 3, 1), 7, np.uint8)], axis=2)),
    ('bgra8', np.concatenate([RGB[:, :, ::-1], np.full((2, 3, 1), 7, np.uint8)], axis=2)),
])
def test_colour_encodings_come_out_in_rgb_order(encoding, pixels):
    out = image_to_rgb(image(encoding, np.ascontiguousarray(pixels)))
    np.testing.assert_array_equal(out, RGB)
    assert tuple(out[0, 0]) == (255, 0, 0)  # the red pixel is still red


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
def test_mono8_is_copied_to_three_channels(encoding):
    out = image_to_rgb(image(encoding, GREY))
    np.testing.assert_array_equal(out, np.repeat(GREY[:, :, None], 3, axis=2))


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('is_bigendian', [0, 1])
def test_16_bit_is_scaled_to_8_bit_with_its_byte_order(encoding, is_bigendian):
    values = np.array([[0, 257, 65535], [32768, 1000, 65280]], dtype=np.uint16)
    pixels = values.astype('>u2' if is_bigendian else '<u2')
    out = image_to_rgb(image(encoding, pixels, is_bigendian=is_bigendian))
    expected = np.array([[0, 1, 255], [128, 4, 254]], dtype=np.uint8)
    np.testing.assert_array_equal(out, np.repeat(expected[:, :, None], 3, axis=2))


@pytest.mark.parametrize('encoding,pixels', [
    ('rgb8', RGB), ('bgr8', np.ascontiguousarray(RGB[:, :, ::-1])), ('mono8', GREY),
    ('mono16', GREY.astype('<u2') * 257),
])
def test_row_padding_is_dropped(encoding, pixels):
    row_bytes = pixels.shape[1] * ENCODINGS[encoding][0] * ENCODINGS[encoding][1]
    plain = image_to_rgb(image(encoding, pixels))
    padded = image_to_rgb(image(encoding, pixels, step=row_bytes + 5))
    np.testing.assert_array_equal(padded, plain)


def test_unknown_encoding_is_named_with_the_supported_ones():
    msg = image('rgb8', RGB)
    msg.encoding = 'yuv422'
    with pytest.raises(ImageError, match='yuv422') as info:
        image_to_rgb(msg)
    assert 'rgb8' in str(info.value) and 'mono16' in str(info.value)


def test_step_smaller_than_a_row_is_rejected_with_the_numbers():
    msg = image('rgb8', RGB)
    msg.step = 8
    with pytest.raises(ImageError, match=r'step 8 .*3 \* 3 = 9'):
        image_to_rgb(msg)


@pytest.mark.parametrize('delta', [-1, 1, -18])
def test_data_length_must_equal_step_times_height(delta):
    msg = image('rgb8', RGB)
    msg.data = msg.data[:len(msg.data) + delta] if delta < 0 else msg.data + b'\0' * delta
    with pytest.raises(ImageError, match=rf'{18 + delta} bytes, expected .*9 \* 2 = 18'):
        image_to_rgb(msg)


@pytest.mark.parametrize('height,width', [(0, 3), (2, 0), (0, 0)])
def test_zero_sized_images_are_rejected(height, width):
    msg = SimpleNamespace(height=height, width=width, encoding='rgb8', step=3 * width,
                          is_bigendian=0, data=b'')
    with pytest.raises(ImageError, match='positive'):
        image_to_rgb(msg)


def test_non_byte_data_is_rejected():
    msg = image('rgb8', RGB)
    msg.data = np.zeros(18, dtype=np.float32)
    with pytest.raises(ImageError, match='float32'):
        image_to_rgb(msg)
    msg.data = object()
    with pytest.raises(ImageError, match='object'):
        image_to_rgb(msg)


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# -- compressed --------------------------------------------------------------------------------

def blocks():
    """A 16x16 RGB image of four flat colour blocks (JPEG keeps flat blocks nearly exact)."""
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:8, :8] = (255, 0, 0)
    rgb[:8, 8:] = (0, 255, 0)
    rgb[8:, :8] = (0, 0, 255)
    rgb[8:, 8:] = (255, 255, 255)
    return rgb


def encoded(ext, rgb):
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.reshape(-1)


@pytest.mark.parametrize('fmt', ['png', 'PNG', 'rgb8; png compressed bgr8', ''])
def test_png_decodes_exactly_in_rgb_order(fmt):
    rgb = blocks()
    out = compressed_to_rgb(SimpleNamespace(format=fmt, data=encoded('.png', rgb).tobytes()))
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize('fmt', ['jpeg', 'jpg', 'rgb8; jpeg compressed bgr8'])
def test_jpeg_decodes_in_rgb_order(fmt):
    rgb = blocks()
    data = array.array('B', encoded('.jpg', rgb).tobytes())
    out = compressed_to_rgb(SimpleNamespace(format=fmt, data=data))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    # JPEG subsamples chroma, so only compare block interiors, away from colour edges.
    for row, col in ((3, 3), (3, 12), (12, 3), (12, 12)):
        assert np.abs(out[row, col].astype(int) - rgb[row, col].astype(int)).max() < 40
    assert out[3, 3].argmax() == 0 and out[3, 12].argmax() == 1 and out[12, 3].argmax() == 2


def test_grey_png_is_expanded_to_rgb():
    ok, buf = cv2.imencode('.png', GREY)
    assert ok
    out = compressed_to_rgb(SimpleNamespace(format='png', data=buf.reshape(-1)))
    np.testing.assert_array_equal(out, np.repeat(GREY[:, :, None], 3, axis=2))


@pytest.mark.parametrize('fmt,data,match', [
    ('jpeg', b'not a jpeg at all', 'could not be decoded'),
    ('png', b'', 'no data'),
    ('tiff', b'II*\0', "'tiff' is not supported"),
    ('16UC1; compressedDepth png', b'\0' * 20, 'compressedDepth'),
])
def test_bad_compressed_images_raise_image_error(fmt, data, match):
    with pytest.raises(ImageError, match=match):
        compressed_to_rgb(SimpleNamespace(format=fmt, data=data))


# -- array -> message fields -------------------------------------------------------------------

def test_rgb_to_image_fields_fills_an_rgb8_image():
    fields = rgb_to_image_fields(RGB)
    assert {k: v for k, v in fields.items() if k != 'data'} == {
        'height': 2, 'width': 3, 'encoding': 'rgb8', 'is_bigendian': 0, 'step': 9}
    assert isinstance(fields['data'], array.array) and fields['data'].typecode == 'B'
    assert fields['data'].tobytes() == RGB.tobytes()
    numpy_fields = rgb_to_image_fields(RGB, data_as='numpy')
    assert isinstance(numpy_fields['data'], np.ndarray) and numpy_fields['data'].dtype == np.uint8
    np.testing.assert_array_equal(numpy_fields['data'], RGB.reshape(-1))


def test_rgb_to_image_fields_fills_an_rclpy_image():
    sensor_msgs = pytest.importorskip('sensor_msgs.msg')
    for check_fields in (False, True):
        msg = sensor_msgs.Image(check_fields=check_fields, **rgb_to_image_fields(RGB))
        np.testing.assert_array_equal(image_to_rgb(msg), RGB)


@pytest.mark.parametrize('bad', [
    np.zeros((2, 3), np.uint8), np.zeros((2, 3, 4), np.uint8), np.zeros((2, 3, 3), np.float32),
    np.zeros((0, 3, 3), np.uint8), [[[0, 0, 0]]],
])
def test_rgb_to_image_fields_rejects_non_rgb_arrays(bad):
    with pytest.raises(ImageError):
        rgb_to_image_fields(bad)


def test_rgb_to_image_fields_rejects_unknown_data_as():
    with pytest.raises(ImageError, match='data_as'):
        rgb_to_image_fields(RGB, data_as='list')


@settings(max_examples=60, deadline=None)
@given(rgb=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3))),
       padding=st.integers(0, 7), data_as=st.sampled_from(['array', 'numpy']))
def test_rgb8_round_trip_property(rgb, padding, data_as):
    fields = rgb_to_image_fields(rgb, data_as=data_as)
    np.testing.assert_array_equal(image_to_rgb(SimpleNamespace(**fields)), rgb)
    padded = image('rgb8', rgb, step=fields['step'] + padding)
    np.testing.assert_array_equal(image_to_rgb(padded), rgb)


# -- resize / crop -----------------------------------------------------------------------------

def test_resize_rgb_averages_blocks_with_inter_area():
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[:2, :2] = 100
    rgb[:2, 2:] = [[10, 20, 30], [30, 40, 50]]  # the top-right block averages to (20, 30, 40)
    out = resize_rgb(rgb, 2)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_array_equal(out[0, 1], [20, 30, 40])
    np.testing.assert_array_equal(out[1], 0)
    assert resize_rgb(rgb, (3, 5)).shape == (3, 5, 3)  # (height, width)


def test_resize_rgb_rejects_bad_sizes():
    with pytest.raises(ImageError):
        resize_rgb(RGB, 0)
    with pytest.raises(ImageError):
        resize_rgb(RGB, 'big')


def test_center_crop_takes_the_middle():
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    square = center_crop(rgb)
    np.testing.assert_array_equal(square, rgb[:, 1:5])
    np.testing.assert_array_equal(center_crop(rgb, (2, 2)), rgb[1:3, 2:4])
    assert square.flags['C_CONTIGUOUS']
    with pytest.raises(ImageError, match='larger than the image'):
        center_crop(rgb, 5)

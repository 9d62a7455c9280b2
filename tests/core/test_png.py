"""core.png: the ISA-L path is lossless and decodes exactly what OpenCV decodes (isal is required)."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from gaze_pipelines.core import png as png_codec
from gaze_pipelines.pipelines.gazenet import nodes_data as nd


def _images():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:64]
    smooth = ((xx * 3 + yy * 2) % 256).astype(np.uint8)
    return [
        rng.integers(0, 256, (37, 53), dtype=np.uint8),
        smooth,
        np.zeros((1, 1), np.uint8),
        np.full((5, 1), 255, np.uint8),
        np.full((1, 7), 9, np.uint8),
    ]


def _cv2(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def _png(rows: np.ndarray, width: int, height: int, colour: int = 0, depth: int = 8) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        png_codec.PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows.tobytes()))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("level", [0, 1, 3, 9])
def test_isal_encoder_is_lossless(level):
    for img in _images():
        data = png_codec.encode_grey_isal(img, level)
        assert np.array_equal(_cv2(data), img)
        assert np.array_equal(png_codec.decode_grey(data), img)


def test_isal_encoder_wants_grey_uint8():
    with pytest.raises(ValueError, match="2-D uint8"):
        png_codec.encode_grey_isal(np.zeros((4, 4, 3), np.uint8))


@pytest.mark.parametrize("png_filter", ["none", "sub"])
def test_fast_decoder_takes_none_and_sub_filters(png_filter):
    p = nd.DatasetConvertParams.model_validate(
        {"data_root_path": "x", "png_codec": "opencv", "png_filter": png_filter}
    )
    for img in _images():
        data = nd._encode(img, nd.png_params(p))
        fast = png_codec._decode_grey_fast(data)
        assert fast is not None and np.array_equal(fast, img) and np.array_equal(fast, _cv2(data))


def test_fast_decoder_mixed_none_and_sub_rows():
    rng = np.random.default_rng(2)
    h, w = 9, 11
    rows = rng.integers(0, 256, (h, w + 1), dtype=np.uint8)
    rows[:, 0] = rng.integers(0, 2, h)
    data = _png(rows, w, h)
    fast = png_codec._decode_grey_fast(data)
    assert fast is not None and np.array_equal(fast, _cv2(data))


def test_everything_else_goes_to_opencv():
    img = _images()[0]
    paeth = nd._encode(
        img,
        nd.png_params(
            nd.DatasetConvertParams.model_validate(
                {"data_root_path": "x", "png_codec": "opencv", "png_filter": "paeth"}
            )
        ),
    )
    colour = cv2.imencode(".png", np.dstack([img, img // 2, 255 - img]))[1].tobytes()
    deep = cv2.imencode(".png", img.astype(np.uint16) * 257)[1].tobytes()
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    good = png_codec.encode_grey_isal(img)
    bad_crc = bytearray(good)
    bad_crc[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
    for data in (paeth, colour, deep, jpeg):
        assert png_codec._decode_grey_fast(data) is None
        assert np.array_equal(png_codec.decode_grey(data), _cv2(data))
    for data in (bytes(bad_crc), good[: len(good) // 2], b"\x89PNG\r\n\x1a\n garbage", b""):
        assert png_codec._decode_grey_fast(data) is None
        expected = _cv2(data) if data else None
        got = png_codec.decode_grey(data) if data else None
        assert (got is None and expected is None) or np.array_equal(got, expected)

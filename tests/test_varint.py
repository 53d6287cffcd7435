"""Varint decoding, against hand-worked LEB128 encodings and round trips."""

import pytest
from hypothesis import example, given, strategies as st

from fastrace import TraceFormatError
from fastrace._varint import uvarint
from tests.tracebuild import uv

pytestmark = pytest.mark.unit


def encode(v: int, pad_to: int = 0) -> bytes:
    """Unsigned LEB128, optionally padded with 0x80 continuation bytes the
    way the Go runtime pads batch sizes."""
    out = bytearray(uv(v))
    while len(out) < pad_to:
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


@pytest.mark.parametrize("data,value", [
    (b"\x00", 0),
    (b"\x7f", 127),
    (b"\x80\x01", 128),
    (b"\xe5\x8e\x26", 624485),              # the classic LEB128 example
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 2**64 - 1),
    (b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 2**63),
    (b"\x85\x80\x80\x80\x80\x80\x80\x80\x80\x00", 5),  # padded to 10 bytes
])
def test_known_encodings(data, value):
    assert uvarint(data) == (value, len(data))


def test_position_and_trailing_bytes():
    assert uvarint(b"\x01\x80\x01\x05", 1) == (128, 3)


@pytest.mark.parametrize("data", [
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",      # 10th byte carries more than 1 bit
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # 11 bytes
    b"\xff" * 20,
])
def test_overflow(data):
    with pytest.raises(TraceFormatError, match="overflows"):
        uvarint(data)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff\xff"])
def test_truncated(data):
    with pytest.raises(TraceFormatError, match="truncated"):
        uvarint(data)


@given(st.integers(0, 2**64 - 1), st.integers(0, 10))
@example(0, 0)
@example(127, 0)
@example(128, 0)
@example(2**63, 0)
@example(2**64 - 1, 0)
@example(1, 10)
def test_round_trip(v, pad):
    data = encode(v, pad)
    if len(data) > 10:
        with pytest.raises(TraceFormatError):
            uvarint(data)
    else:
        assert uvarint(data + b"\x7f") == (v, len(data))

"""Go string quoting: hand-worked cases, then Go's own strconv.Quote."""

import random
import subprocess

import pytest

from fastrace.goquote import go_quote

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("data,quoted", [
    (b"", '""'),
    (b"hello world", '"hello world"'),
    (b'a"b\\c', r'"a\"b\\c"'),
    (b"\x00\x07\x08\x0c\n\r\t\x0b\x1b\x7f", r'"\x00\a\b\f\n\r\t\v\x1b\x7f"'),
    ("é日本".encode(), '"é日本"'),
    ("\U0001F600".encode(), '"\U0001F600"'),      # emoji: printable
    (b"\xff\xfe", r'"\xff\xfe"'),                 # not UTF-8
    (b"\xc0\x80", r'"\xc0\x80"'),                 # overlong NUL
    (b"\xed\xa0\x80", r'"\xed\xa0\x80"'),         # encoded surrogate
    (b"\xe2\x82A", r'"\xe2\x82A"'),               # truncated sequence, then ASCII
    (b"\xf4\x90\x80\x80", r'"\xf4\x90\x80\x80"'),  # above U+10FFFF
    ("\u00a0".encode(), r'"\u00a0"'),             # no-break space: not printable for Go
    ("\u2028".encode(), r'"\u2028"'),
    ("\ufeff".encode(), r'"\ufeff"'),
    ("\ufffd".encode(), '"\ufffd"'),              # a real U+FFFD prints as itself
    ("\U000e0001".encode(), r'"\U000e0001"'),     # language tag: format character
])
def test_hand_worked(data, quoted):
    assert go_quote(data) == quoted


def _go_quote_many(strings):
    from tests import gotool

    binary = gotool.build_prog(gotool.REFERENCE, "strconvref")
    inp = "".join(s.hex() + "\n" for s in strings).encode()
    out = subprocess.run([str(binary), "quote"], input=inp, capture_output=True, check=True).stdout
    lines = out.decode("utf-8").split("\n")
    assert lines[-1] == ""
    return lines[:-1]


@pytest.mark.live
def test_every_code_point_against_go():
    # Every Unicode scalar value, 256 per line, plus the surrogates' bytes.
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    strings = ["".join(map(chr, cps[i:i + 256])).encode() for i in range(0, len(cps), 256)]
    strings.append(bytes(range(256)))
    strings += [bytes([0xED, hi, lo]) for hi in (0xA0, 0xBF) for lo in (0x80, 0xBF)]
    want = _go_quote_many(strings)
    got = [go_quote(s) for s in strings]
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not bad, f"{len(bad)} differ, first: {got[bad[0]]!r} vs Go {want[bad[0]]!r}"


@pytest.mark.live
def test_random_bytes_against_go():
    rng = random.Random(1234)
    alphabet = [0x00, 0x09, 0x22, 0x5C, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE2,
                0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x41, 0x9F, 0xA0, 0x8F, 0x90]
    strings = []
    for _ in range(20000):
        n = rng.randrange(0, 12)
        strings.append(bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
                             for _ in range(n)))
    want = _go_quote_many(strings)
    got = [go_quote(s) for s in strings]
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    assert not bad, f"{len(bad)} differ, first {strings[bad[0]]!r}: {got[bad[0]]!r} vs Go {want[bad[0]]!r}"

"""Go's double-quoted string syntax (``strconv.Quote``) for arbitrary bytes.

Go strings are byte strings.  Go's trace dumps print string and batch data
with ``strconv.Quote``, so fastrace needs the same output for the same
bytes: valid UTF-8 printable runes are kept, the usual C escapes are used
for ``\\a \\b \\f \\n \\r \\t \\v``, other ASCII controls and bytes that are
not valid UTF-8 become ``\\xNN``, and other non-printable runes ``\\uNNNN`` or
``\\UNNNNNNNN``.

Which runes are printable follows Go's tables (``_goprint.py``, generated
from the reference toolchain), not the local Python's Unicode database.
"""

from __future__ import annotations

import bisect

from fastrace._goprint import PRINTABLE_RANGES

__all__ = ["go_quote", "is_go_printable"]

_STARTS = [r[0] for r in PRINTABLE_RANGES]
_ENDS = [r[1] for r in PRINTABLE_RANGES]

_SIMPLE = {
    0x07: "\\a",
    0x08: "\\b",
    0x0C: "\\f",
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x0B: "\\v",
    0x5C: "\\\\",
    0x22: '\\"',
}

# Fast path: ASCII bytes that print as themselves.
_PLAIN_ASCII = frozenset(range(0x20, 0x7F)) - {0x22, 0x5C}


def is_go_printable(cp: int) -> bool:
    """Whether Go's ``strconv.IsPrint`` is true for code point ``cp``."""
    i = bisect.bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp <= _ENDS[i]


def _utf8_len(b0: int) -> int:
    if b0 < 0xC2:
        return 0  # continuation byte, overlong lead, or ASCII (handled elsewhere)
    if b0 < 0xE0:
        return 2
    if b0 < 0xF0:
        return 3
    if b0 < 0xF5:
        return 4
    return 0


def _decode_rune(data: bytes, i: int) -> tuple[int, int]:
    """Decode one rune at data[i] as Go's utf8.DecodeRune does.

    Returns (code point, width); (-1, 1) for a byte that does not start a
    valid, shortest-form, non-surrogate encoding.
    """
    n = _utf8_len(data[i])
    if n == 0 or i + n > len(data):
        return -1, 1
    b1 = data[i + 1]
    # Second-byte ranges exclude overlongs, surrogates and values > U+10FFFF.
    lo, hi = 0x80, 0xBF
    b0 = data[i]
    if b0 == 0xE0:
        lo = 0xA0
    elif b0 == 0xED:
        hi = 0x9F
    elif b0 == 0xF0:
        lo = 0x90
    elif b0 == 0xF4:
        hi = 0x8F
    if not lo <= b1 <= hi:
        return -1, 1
    for k in range(2, n):
        if not 0x80 <= data[i + k] <= 0xBF:
            return -1, 1
    if n == 2:
        cp = ((b0 & 0x1F) << 6) | (b1 & 0x3F)
    elif n == 3:
        cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (data[i + 2] & 0x3F)
    else:
        cp = (((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12)
              | ((data[i + 2] & 0x3F) << 6) | (data[i + 3] & 0x3F))
    return cp, n


def go_quote(data: bytes) -> str:
    """Quote ``data`` exactly as Go's ``strconv.Quote(string(data))``."""
    out = ['"']
    append = out.append
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            if b in _PLAIN_ASCII:
                # Copy a run of plain ASCII at once.
                j = i + 1
                while j < n and data[j] in _PLAIN_ASCII:
                    j += 1
                append(data[i:j].decode("ascii"))
                i = j
                continue
            esc = _SIMPLE.get(b)
            append(esc if esc is not None else f"\\x{b:02x}")
            i += 1
            continue
        cp, width = _decode_rune(data, i)
        if cp < 0:
            append(f"\\x{b:02x}")
        elif is_go_printable(cp):
            append(chr(cp))
        elif cp < 0x10000:
            append(f"\\u{cp:04x}")
        else:
            append(f"\\U{cp:08x}")
        i += width
    append('"')
    return "".join(out)

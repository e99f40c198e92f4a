"""Lossless JPEG metadata stripping: copy the coded image, drop every metadata segment.

Why: the most common upload is a phone JPEG already at the large derivative's size
(1080 px wide). Decoding and re-encoding it costs more than everything else in the render
(progressive encode of 1.5 MP) and adds a second generation of compression loss; copying its
entropy-coded data unchanged while leaving out EXIF/GPS/XMP/ICC/IPTC/comments gives the same
guarantee (no metadata) with the original's pixels, at the cost of a byte walk.

The walk keeps only what a decoder needs (quantisation and Huffman tables, frame and scan
headers, restart interval) plus the two markers that decide how the three components are
interpreted: JFIF (rewritten without its optional thumbnail) and Adobe APP14 (its colour
transform flag). Anything it does not recognise, or a file that does not end in EOI, gives
``None`` so the caller re-encodes instead: a fallback, never a broken derivative.
"""

from __future__ import annotations

__all__ = ["strip_metadata"]

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"
_APP0, _APP14 = 0xE0, 0xEE
_SOS = 0xDA
# Baseline, extended and progressive Huffman frames: what every browser decodes.
_SOF_OK = frozenset({0xC0, 0xC1, 0xC2})
# Table / header segments a decoder needs: DHT, DQT, DRI, DNL.
_TABLES = frozenset({0xC4, 0xDB, 0xDD, 0xDC})
_APPN = range(0xE0, 0xF0)
_COM = 0xFE
_RST = range(0xD0, 0xD8)
# JFIF 1.01, no density unit (aspect 1:1), no thumbnail.
_JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def strip_metadata(data: bytes) -> bytes | None:
    """``data`` without metadata segments or trailing bytes, or ``None`` if it is not a plain
    8-bit Huffman JPEG this walk understands."""
    if not data.startswith(_SOI):
        return None
    out = [_SOI]
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes before a marker
            i += 1
        if i >= n:
            return None
        marker = data[i]
        if marker == 0xD9:
            out.append(_EOI)
            return b"".join(out)
        if i + 2 >= n:
            return None
        length = (data[i + 1] << 8) | data[i + 2]
        end = i + 1 + length
        if length < 2 or end > n:
            return None
        segment = b"\xff" + data[i:end]
        kept = _keep(marker, segment)
        if kept is None:
            return None
        out.append(kept)
        i = end
        if marker == _SOS:
            scan_end = _entropy_end(data, i)
            if scan_end is None:
                return None
            out.append(data[i:scan_end])
            i = scan_end
    return None


def _keep(marker: int, segment: bytes) -> bytes | None:
    """What to write for one marker segment: itself, a replacement, b"" (dropped) or None
    (unsupported: give up)."""
    if marker in _TABLES or marker == _SOS:
        return segment
    if marker in _SOF_OK:
        return segment if segment[4] == 8 else None  # 12-bit JPEG: browsers cannot show it
    if marker == _APP0:
        return _JFIF if segment[4:9] == b"JFIF\x00" else b""
    if marker == _APP14:
        return segment if segment[4:9] == b"Adobe" else b""
    if marker in _APPN or marker == _COM:
        return b""
    return None  # arithmetic coding, lossless, hierarchical, ...


def _entropy_end(data: bytes, start: int) -> int | None:
    """Index of the first marker after entropy-coded data: 0xFF not followed by a stuffed
    zero or a restart marker."""
    j = start
    while True:
        k = data.find(b"\xff", j)
        if k < 0 or k + 1 >= len(data):
            return None
        nxt = data[k + 1]
        if nxt == 0x00 or nxt in _RST:
            j = k + 2
            continue
        return k

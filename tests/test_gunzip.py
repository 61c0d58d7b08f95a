from __future__ import annotations

import gzip
import io

import pytest

from triage.sources.gunzip import READ_ERRORS, open_gunzip

DATA = b"".join(b"line %d hello world\n" % i for i in range(100_000))


def test_round_trip_with_concatenated_members():
    blob = gzip.compress(DATA) + gzip.compress(b"second member\n")
    assert open_gunzip(io.BytesIO(blob)).read() == DATA + b"second member\n"


def test_highly_compressible_input_comes_out_whole():
    big = b"a" * 20_000_000
    assert open_gunzip(io.BytesIO(gzip.compress(big))).read() == big


def test_truncated_input_hands_over_what_it_decoded_then_raises():
    blob = gzip.compress(DATA)
    lines = []
    with pytest.raises(EOFError):
        for line in open_gunzip(io.BytesIO(blob[: len(blob) // 2])):
            lines.append(line)
    assert len(lines) > 10_000
    assert lines == DATA.splitlines(keepends=True)[: len(lines)]


def test_corrupt_input_raises_a_read_error():
    blob = gzip.compress(DATA)
    with pytest.raises(READ_ERRORS):
        open_gunzip(io.BytesIO(blob[:100] + b"\x00" * 64 + blob[164:])).read()


def test_empty_member():
    assert open_gunzip(io.BytesIO(gzip.compress(b""))).read() == b""

"""What the bytes of a log export are, before its format is sniffed: UTF-8 (with or without a BOM) or
UTF-16 (a PowerShell ``>`` redirect, an export saved from Notepad), turned into one UTF-8 byte stream.

The head is read in as many reads as it takes: a pipe or a FIFO returns what its writer has written so
far, so one short read says nothing about what follows (and a size of 0 proves nothing for a pipe).
The head is then handed out again in front of the rest, so the stream is read once and never reopened.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

from triage.sources.gunzip import READ_ERRORS

HEAD = 1 << 16  # bytes read up front to decide encoding and format
_UTF16 = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def read_head(stream: BinaryIO, size: int = HEAD, step: int = 1 << 16) -> tuple[bytes, BaseException | None]:
    """Up to ``size`` bytes, fewer only at the end of the input (short reads of a pipe are retried), and
    the read error that ended it early (a truncated gzip), raised to the reader once the head is used.
    Reads go ``step`` bytes at a time, so a corrupt gzip loses only its last piece."""
    parts, got = [], 0
    read = getattr(stream, "read1", stream.read)
    while got < size:
        try:
            piece = read(min(step, size - got))
        except READ_ERRORS as exc:
            return b"".join(parts), exc
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts), None


class _Chain(io.RawIOBase):
    """``head`` then the rest of ``stream``. ``soft``: a read error ends the stream like EOF and is kept in
    ``failed`` (see ``read_error``), so a reader keeps the bytes before it, the last partial line included,
    instead of losing what a buffered ``readline`` had gathered when the error came."""

    def __init__(
        self, head: bytes, stream: BinaryIO, own: bool, error: BaseException | None = None, soft: bool = False
    ) -> None:
        self._head, self._pos, self._stream, self._own, self._error = head, 0, stream, own, error
        self._read = getattr(stream, "read1", stream.read)
        self.soft = soft
        self.failed: BaseException | None = None
        self.told = False  # read_error handed ``failed`` out already

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._pos < len(self._head):
            n = min(len(buffer), len(self._head) - self._pos)
            buffer[:n] = self._head[self._pos : self._pos + n]
            self._pos += n
            return n
        if self._error is not None:
            error, self._error = self._error, None
            if not self.soft:
                raise error
            self.failed = error
        if self.failed is not None:
            return 0
        try:
            data = self._read(len(buffer))
        except READ_ERRORS as exc:
            if not self.soft:
                raise
            self.failed = exc
            return 0
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._own:
            self._stream.close()
        super().close()


class _Transcode(io.RawIOBase):
    """UTF-8 bytes of a stream in another encoding (undecodable bytes become U+FFFD, counted by nobody:
    a line that loses a character still reaches the report)."""

    def __init__(self, raw: io.RawIOBase, encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._pending, self._done = b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            chunk = self._raw.read(HEAD)
            self._done = not chunk
            self._pending = self._decoder.decode(chunk or b"", final=self._done).encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of ASCII characters (a JSON or log export) without a BOM: every other byte is NUL."""
    sample = head[:512]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) == len(odd) and 0 not in even:
        return "utf-16-le"
    if even.count(0) == len(even) and 0 not in odd:
        return "utf-16-be"
    return None


def decoded(stream: BinaryIO, own: bool = True, soft: bool = False) -> tuple[io.BufferedReader, str]:
    """The content of ``stream`` as UTF-8 bytes (BOM removed), and the encoding found ("utf-8",
    "utf-8 with BOM", "utf-16-le", "utf-16-be"). ``own``: closing the result closes ``stream``; ``soft``:
    a read error ends the content instead of raising (``read_error`` tells)."""
    head, error = read_head(stream)
    encoding = "utf-8"
    if head.startswith(codecs.BOM_UTF8):
        head, encoding = head[len(codecs.BOM_UTF8) :], "utf-8 with BOM"
    for bom, name in _UTF16:
        if head.startswith(bom):
            head, encoding = head[len(bom) :], name
            break
    else:
        encoding = _utf16_without_bom(head) or encoding
    raw: io.RawIOBase = _Chain(head, stream, own, error, soft)
    if encoding.startswith("utf-16"):
        raw = _Transcode(raw, encoding)
    return io.BufferedReader(raw, buffer_size=HEAD), encoding


def read_error(stream: io.BufferedReader, consume: bool = True) -> BaseException | None:
    """The read error that ended a ``decoded(..., soft=True)`` stream, once (None afterwards, or if none);
    ``consume=False`` only looks."""
    raw = getattr(stream, "raw", None)  # an in-memory stream (BytesIO) has none: it cannot fail
    chain = raw._raw if isinstance(raw, _Transcode) else raw
    if not isinstance(chain, _Chain) or chain.failed is None or chain.told:
        return None
    chain.told = consume
    return chain.failed

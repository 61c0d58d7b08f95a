"""File sources: gcloud's JSON array, JSON lines, or plain text; gzipped or not; ``-`` for stdin.

The format is sniffed from the first bytes, so users never name it. JSON lines stream (memory does
not grow with the file); a JSON array is what ``gcloud logging read --format=json`` prints, newest
first, so it is read whole and returned oldest first. Anything that is not a JSON object is counted as
malformed with its line number, never fatal.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import regex as re

from triage.errors import InputError
from triage.records import normalize_timestamp
from triage.sources import SourceStats
from triage.sources.decode import HEAD, decoded, read_error
from triage.sources.gunzip import READ_ERRORS, open_gunzip
from triage.sources.pasted import strip_prefixes

_JSON_OBJECT_START = re.compile(rb'\s*\{\s*(?:"|\}\s*$)')  # {"key"... or {}
# The first line of a file that ``pull --allow-partial`` kept: {"triage_partial": {"reason": ..., "entries": N}}.
# Every reader skips it and marks the source partial, so a later check on the file cannot pass as whole.
PARTIAL_KEY = "triage_partial"
_PARTIAL_LINE = b'{"' + PARTIAL_KEY.encode() + b'"'
_BRACE_TEXT = re.compile(rb'\s*\{[^{}"\n]{0,200}\}[ \t]+\S')  # "{req=42} GET /": a text log line
# "{ Error: connect ECONNREFUSED ..." (Node's util.inspect of an error), "{:error=>..." (Ruby's inspect): an
# unquoted key after the brace is never JSON.
_INSPECT_TEXT = re.compile(rb"\s*\{\s*(?:[A-Za-z_$][\w$]*: |:\w+ ?=>)")
MAX_LINE = 16 << 20  # bytes of one line that are read (an API entry is at most 256 KB); the rest is counted and dropped
MAX_NOTES = 20  # malformed-line notes kept per source; the count is always exact


def _open_binary(path: str, buffering: int = -1) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb", buffering=buffering)  # type: ignore[return-value]  # closed by the caller
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


def open_stream(path: str) -> BinaryIO:
    """A binary stream of the file's content, transparently gunzipped."""
    raw = _open_binary(path)
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return open_gunzip(buffered)
    return buffered


def text_entry(line: str, line_no: int = 0, before: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Best-effort LogEntry for a plain-text line (pasted prefixes stripped, see triage.sources.pasted).

    A line without its own time or container takes those of the line ``before`` it (a wrapped line, a
    trace's frames), and ``insertId`` carries the line number, so the text keeps its order (records are
    ordered by time, then insertId)."""
    return _text_entry(line, line_no, before or {})[0]


def _text_entry(line: str, line_no: int, before: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The entry, and whether the lines after it may take its time (not when its own names no instant)."""
    p = strip_prefixes(line)
    entry: dict[str, Any] = {"textPayload": p.message, "logName": "text", "insertId": f"{line_no:012d}"}
    good = True
    if p.timestamp:
        ts = normalize_timestamp(p.timestamp.replace(",", ".").replace(" UTC", "Z").replace(" ", "T", 1))
        if not ts:
            # A time that names no real instant (2025-99-99T99:99:99Z) stays as written: records.from_entry
            # then counts the line malformed, as it does a JSON entry's, instead of it borrowing a neighbour's.
            ts, good = p.timestamp, False
    else:
        ts = before.get("timestamp", "")
    if ts:
        entry["timestamp"] = ts
    if p.severity:
        entry["severity"] = p.severity
    if p.instance or "labels" in before:
        entry["labels"] = {"instanceId": p.instance} if p.instance else before["labels"]
    return entry, good


def _kind(head: bytes) -> str:
    """The format of a decoded head: empty, binary, array, lines (JSON lines) or text."""
    if not head.strip():
        return "empty" if len(head) < HEAD else "text"
    first = head.lstrip()[:1]
    if b"\x00" in head[:64] or first == b"\x89":
        # NUL bytes (PNG, archives) never occur in a JSON or text log export (UTF-16 was decoded already).
        return "binary"
    if first == b"[":
        return "array"
    if first != b"{":
        return "text"
    lines = head.splitlines()
    complete = lines if len(head) < HEAD or head.endswith(b"\n") else lines[:-1]
    if not complete:
        return "lines"  # one first line longer than the head
    if complete[0].strip() == b"{":
        return "objects"  # pretty-printed objects one after another (jq's output, a pasted API error body)
    if _INSPECT_TEXT.match(complete[0]):
        return "text"  # an object dump a runtime printed, not JSON: its lines are a text log
    # A line that opens a JSON object with a key is JSON lines, even when it does not parse (cut, too deep:
    # each is then a counted malformed entry). "{request_id=42} GET /" or "{main} started" (a brace group,
    # then words: never JSON) is a text log whose lines start with a brace, not thousands of malformed entries.
    if any(_JSON_OBJECT_START.match(line) for line in complete[:20]):
        return "lines"
    return "text" if _BRACE_TEXT.match(complete[0]) else "lines"


class _Counted(io.RawIOBase):
    """A raw stream that adds the bytes it reads to ``stats.bytes_read`` (the progress line polls it)."""

    def __init__(self, inner: BinaryIO, stats: SourceStats, own: bool) -> None:
        self._inner = inner
        self._stats = stats
        self._own = own

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._inner.readinto(buffer)  # type: ignore[attr-defined]
        self._stats.bytes_read += n or 0
        return n  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._own and not self.closed:
            self._inner.close()
        super().close()


class FileSource:
    """One file (or stdin, a pipe, a FIFO) of LogEntry mappings."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.stats = SourceStats()
        self.regular = False  # a regular file: may be reopened (sniffing, the fast path's chunks)
        self.encoding = "utf-8"
        self.gzipped = False
        self._kind: str | None = None
        self.skip = 0  # bytes of the decoded content before the first entry (the partial marker line)
        self._stream: BinaryIO | None = None  # the one stream of a pipe, FIFO or stdin
        if path != "-":
            p = Path(path)
            if not p.exists():
                raise InputError(f"{path}: no such file")
            if p.is_dir():
                raise InputError(f"{path}: is a directory")
            self.regular = stat.S_ISREG(os.stat(path).st_mode)

    @property
    def plain(self) -> bool:
        """The bytes on disk are the UTF-8 lines themselves (no gzip, BOM or UTF-16): readable by offset."""
        return self.regular and not self.gzipped and self.encoding == "utf-8"

    def open(self) -> BinaryIO:
        """The content as UTF-8 bytes: gunzipped, BOM removed, UTF-16 transcoded.

        A pipe, a FIFO or stdin is opened once: every call returns the same stream, so the format is sniffed
        from bytes that are still read afterwards (reopening ``<(cat f)`` would find it drained)."""
        if self._stream is not None:
            return self._stream
        raw = _open_binary(self.path, buffering=0)  # unbuffered: _Counted's BufferedReader is the one buffer
        own = raw is not sys.stdin.buffer
        self.stats.bytes_read = 0  # each opening reads from the start (a regular file is sniffed first)
        buffered = io.BufferedReader(_Counted(raw, self.stats, own), buffer_size=1 << 16)
        self.gzipped = buffered.peek(2)[:2] == b"\x1f\x8b"
        stream, self.encoding = decoded(open_gunzip(buffered) if self.gzipped else buffered, soft=True)
        if not self.regular:
            self._stream = stream
        return stream

    def close(self, stream: BinaryIO) -> None:
        if stream is self._stream:
            self._stream = None
        stream.close()

    def kind(self) -> str:
        """empty, binary, array, lines or text (sniffed once; read errors count as lines, reported on reading)."""
        if self._kind is None:
            try:
                stream = self.open()
                try:
                    head = stream.peek(HEAD)[:HEAD]
                    if not head.strip() and read_error(stream, consume=False) is not None:
                        head = b"{"  # nothing readable before the error: JSON lines, reported on reading
                finally:
                    if self.regular:
                        stream.close()
            except READ_ERRORS:
                head = b"{"
            self._kind = _kind(head)
            if head.startswith(_PARTIAL_LINE):
                self._partial_marker(head.split(b"\n", 1)[0])
            if self.encoding != "utf-8":
                self.stats.notes.append(f"{self.name}: decoded as {self.encoding}")
        return self._kind

    def _partial_marker(self, line: bytes) -> None:
        self.skip = len(line) + 1
        self.stats.partial = True
        try:
            reason = str(orjson.loads(line)[PARTIAL_KEY]["reason"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            reason = "the pull stopped early"
        self.stats.notes.append(f"{self.name}: PARTIAL: written by pull --allow-partial ({reason})")

    def _malformed(self, line_no: int, why: str) -> None:
        self.stats.malformed += 1
        if len(self.stats.notes) < MAX_NOTES:
            self.stats.notes.append(f"{self.name}:{line_no}: {why}")

    def entries(self) -> Iterator[Mapping[str, Any]]:
        kind = self.kind()
        stream = self.open()
        try:
            yield from self._entries(stream, kind)
            self.read_ended(stream)
        except READ_ERRORS as exc:
            self._stopped(exc)
        finally:
            self.close(stream)

    def read_ended(self, stream: BinaryIO) -> None:
        """After a read came back short: a truncated or corrupt gzip, or a read error, ended the stream
        there. What came before it is kept (the last partial line too, counted malformed)."""
        error = read_error(stream)  # type: ignore[arg-type]
        if error is not None:
            self._stopped(error)

    def _stopped(self, exc: BaseException) -> None:
        self.stats.partial = True
        self.stats.notes.append(f"{self.name}: read stopped early: {exc}")

    def _entries(self, stream: BinaryIO, kind: str) -> Iterator[Mapping[str, Any]]:
        if kind == "empty":
            # Nothing was read, so nothing is counted: entries == parsed + malformed holds at 0.
            self.stats.rejected = "the input is empty"
        elif kind == "binary":
            self.stats.rejected = "not a log export (binary data)"
        elif kind == "array":
            data = stream.read()
            self.read_ended(stream)
            yield from self._array(data)
        elif kind == "lines":
            yield from self._json_lines(stream)
        elif kind == "objects":
            data = stream.read()
            self.read_ended(stream)
            text = data.decode("utf-8", errors="surrogateescape")
            numbered = self._walk(text, 0, "JSON value", closer="")
            yield from self._items(numbered, "JSON value")
        else:
            yield from self._text(stream)

    def _array(self, data: bytes) -> Iterator[Mapping[str, Any]]:
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            body = data.lstrip()[1:].lstrip()[:1]
            if body not in (b"{", b"[", b"]", b""):
                # "[INFO] ..." or "[2025-09-05 ...]": a text log whose lines start with a bracket.
                yield from self._text(io.BytesIO(data))
            else:
                yield from self._broken_array(data, exc)
            return
        if not isinstance(items, list):
            self.stats.entries += 1
            self._malformed(1, "expected a JSON array of LogEntry objects")
            return
        yield from self._items(list(enumerate(items, 1)))

    def _items(self, numbered: list[tuple[int, Any]], what: str = "array item") -> Iterator[Mapping[str, Any]]:
        if not numbered and self._kind == "array":  # objects one after another: the walk counted a malformed one
            self.stats.rejected = "an empty JSON array"
        # gcloud prints newest first; stable sort keeps equal timestamps in file order.
        numbered.sort(key=lambda ix: normalize_timestamp(ix[1].get("timestamp")) if isinstance(ix[1], dict) else "")
        for n, item in numbered:
            self.stats.entries += 1
            if isinstance(item, dict):
                yield item
            else:
                self._malformed(n, f"{what} is a {type(item).__name__}, not an object")

    def _broken_array(self, data: bytes, exc: Exception) -> Iterator[Mapping[str, Any]]:
        """Recover the objects of an array that does not parse (a truncated or damaged export).

        gcloud pretty-prints one object over many lines, so this walks the array object by object; the
        first item that does not parse ends the walk and counts as one malformed entry. An array that
        never closes means the export was cut: the source is partial.
        """
        # surrogateescape keeps invalid bytes invalid, so orjson still rejects them when re-reading an item.
        text = data.decode("utf-8", errors="surrogateescape")
        numbered = self._walk(text, text.index("[") + 1, "JSON array item", closer="]")
        if not data.rstrip().endswith(b"]"):
            self.stats.partial = True
            self.stats.notes.append(f"{self.name}: the JSON array is not closed (truncated export?): {exc}")
        yield from self._items(numbered)

    def _walk(self, text: str, pos: int, what: str, closer: str) -> list[tuple[int, Any]]:
        """(line number, value) of the JSON values from ``pos`` on, separated by whitespace or commas, up to
        ``closer`` ("]" of an array; "": none) or the end; the first that does not parse ends the walk as one
        malformed entry (its line number, "rest of the file skipped")."""
        decoder = json.JSONDecoder()
        numbered: list[tuple[int, Any]] = []
        # Line numbers are counted on from the last item, never from the start: per item from 0 was
        # quadratic (a truncated 20k-entry export took 70 s against 0.3 s whole).
        line_no, counted = 1 + text.count("\n", 0, pos), pos
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or (closer and text[pos] == closer):
                return numbered
            line_no += text.count("\n", counted, pos)
            counted = pos
            try:
                _, end = decoder.raw_decode(text, pos)
                item = orjson.loads(text[pos:end].encode("utf-8", errors="surrogateescape"))
            except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
                self.stats.entries += 1
                why = str(err).split(":")[0]
                self._malformed(line_no, f"invalid {what} ({why}); rest of the file skipped")
                return numbered
            numbered.append((line_no, item))
            pos = end

    def _lines(self, stream: BinaryIO, first: int = 1) -> Iterator[tuple[int, bytes]]:
        """(line number, line) with each line capped at MAX_LINE bytes: the rest of a longer one is read in
        pieces and dropped, with a note, so a 200 MB line (or a gzip bomb without newlines) costs 1 MB."""
        for line_no in itertools.count(first):
            raw = stream.readline(MAX_LINE + 1)
            if not raw.endswith(b"\n"):
                self.read_ended(stream)  # the last line, or the input ended early: said before that line
            if not raw:
                return
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                dropped = 0
                while (piece := stream.readline(1 << 20)) and not piece.endswith(b"\n"):
                    dropped += len(piece)
                dropped += len(piece) + 1  # the byte past the cap, then the rest
                self.stats.cut_lines += 1
                if self.stats.cut_lines <= MAX_NOTES:
                    self.stats.notes.append(
                        f"{self.name}:{line_no}: line longer than {MAX_LINE:,} bytes: {dropped:,} bytes after it dropped"
                    )
                raw = raw[:MAX_LINE]
            yield line_no, raw

    def _json_lines(self, stream: BinaryIO) -> Iterator[Mapping[str, Any]]:
        if self.skip:
            stream.readline()  # the partial marker: not an entry
        for line_no, raw in self._lines(stream, 1 + bool(self.skip)):
            line = raw.strip()
            if not line:
                continue
            self.stats.entries += 1
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                self._malformed(line_no, f"invalid JSON: {str(exc).split(':')[0]}")
                continue
            if isinstance(item, dict):
                yield item
            else:
                self._malformed(line_no, f"a JSON {type(item).__name__}, not a LogEntry object")

    def _text(self, stream: BinaryIO) -> Iterator[Mapping[str, Any]]:
        before: dict[str, Any] = {}
        for line_no, raw in self._lines(stream):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            self.stats.entries += 1
            entry, good = _text_entry(line, line_no, before)
            if good:
                before = entry  # the lines after a malformed one take the last good line's time
            yield entry


def _identity(source: FileSource) -> tuple:
    if source.path == "-":
        return ("-",)
    st = os.stat(source.path)
    return (st.st_dev, st.st_ino)


def _digest(path: str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def distinct(sources: list[FileSource]) -> list[FileSource]:
    """Each input once: the same path given twice (a link, ``./a`` and ``a``) or a byte-identical copy
    would double every count. The first by name is kept and says, in a note, what it stands for."""
    kept: dict[tuple, FileSource] = {}
    by_size: dict[int, list[FileSource]] = {}
    for source in sorted(sources, key=lambda s: s.name):
        twin = kept.get(_identity(source))
        if twin is None and source.regular:
            size = os.path.getsize(source.path)
            # Contents are compared only between files of the same size: no hashing in the common case.
            same = [o for o in by_size.get(size, []) if _digest(o.path) == _digest(source.path)]
            twin = same[0] if same else None
            by_size.setdefault(size, []).append(source)
        if twin is None:
            kept[_identity(source)] = source
            continue
        how = "the same file" if _identity(twin) == _identity(source) else "a byte-identical copy"
        twin.stats.notes.append(f"{source.name} is {how} as {twin.name}: read once")
    return list(kept.values())

"""File sources: gcloud's JSON array, JSON lines, or plain text; gzipped or not; ``-`` for stdin.

The format is sniffed from the first bytes, so users never name it. JSON lines stream (memory does
not grow with the file); a JSON array is what ``gcloud logging read --format=json`` prints, newest
first, so it is read whole and returned oldest first. Anything that is not a JSON object is counted as
malformed with its line number, never fatal.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from triage.errors import InputError
from triage.records import normalize_timestamp
from triage.sources import SourceStats
from triage.sources.gunzip import READ_ERRORS, open_gunzip
from triage.sources.pasted import strip_prefixes

MAX_NOTES = 20  # malformed-line notes kept per source; the count is always exact


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # closed by the caller's finally
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
    before = before or {}
    p = strip_prefixes(line)
    entry: dict[str, Any] = {"textPayload": p.message, "logName": "text", "insertId": f"{line_no:012d}"}
    if p.timestamp:
        ts = normalize_timestamp(p.timestamp.replace(",", ".").replace(" UTC", "Z").replace(" ", "T", 1))
    else:
        ts = before.get("timestamp", "")
    if ts:
        entry["timestamp"] = ts
    if p.severity:
        entry["severity"] = p.severity
    if p.instance or "labels" in before:
        entry["labels"] = {"instanceId": p.instance} if p.instance else before["labels"]
    return entry


class FileSource:
    """One file (or stdin) of LogEntry mappings."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.stats = SourceStats()
        if path != "-":
            p = Path(path)
            if not p.exists():
                raise InputError(f"{path}: no such file")
            if p.is_dir():
                raise InputError(f"{path}: is a directory")

    def _malformed(self, line_no: int, why: str) -> None:
        self.stats.malformed += 1
        if len(self.stats.notes) < MAX_NOTES:
            self.stats.notes.append(f"{self.name}:{line_no}: {why}")

    def entries(self) -> Iterator[Mapping[str, Any]]:
        stream = open_stream(self.path)
        try:
            yield from self._entries(stream)
        except READ_ERRORS as exc:
            # A truncated or corrupt gzip, or a read error: keep what came, say the file is incomplete.
            self.stats.partial = True
            self.stats.notes.append(f"{self.name}: read stopped early: {exc}")
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _entries(self, stream: BinaryIO) -> Iterator[Mapping[str, Any]]:
        head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
        first = head.lstrip()[:1]
        if not head.strip() and not stream.peek(1):
            # Nothing was read, so nothing is counted: entries == parsed + malformed holds at 0.
            self.stats.rejected = "the input is empty"
            return
        if b"\x00" in head or first == b"\x89":
            # NUL bytes (PNG, archives, UTF-16 without BOM) never occur in a JSON or text log export.
            self.stats.rejected = "not a log export (binary data)"
            return
        if first == b"[":
            yield from self._array(stream.read())
        elif first == b"{":
            yield from self._json_lines(stream)
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

    def _items(self, numbered: list[tuple[int, Any]]) -> Iterator[Mapping[str, Any]]:
        if not numbered:
            self.stats.rejected = "an empty JSON array"
        # gcloud prints newest first; stable sort keeps equal timestamps in file order.
        numbered.sort(key=lambda ix: normalize_timestamp(ix[1].get("timestamp")) if isinstance(ix[1], dict) else "")
        for n, item in numbered:
            self.stats.entries += 1
            if isinstance(item, dict):
                yield item
            else:
                self._malformed(n, f"array item is a {type(item).__name__}, not an object")

    def _broken_array(self, data: bytes, exc: Exception) -> Iterator[Mapping[str, Any]]:
        """Recover the objects of an array that does not parse (a truncated or damaged export).

        gcloud pretty-prints one object over many lines, so this walks the array object by object; the
        first item that does not parse ends the walk and counts as one malformed entry. An array that
        never closes means the export was cut: the source is partial.
        """
        # surrogateescape keeps invalid bytes invalid, so orjson still rejects them when re-reading an item.
        text = data.decode("utf-8", errors="surrogateescape")
        decoder = json.JSONDecoder()
        pos, numbered = text.index("[") + 1, []
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            line_no = text.count("\n", 0, pos) + 1
            try:
                _, end = decoder.raw_decode(text, pos)
                item = orjson.loads(text[pos:end].encode("utf-8", errors="surrogateescape"))
            except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
                self.stats.entries += 1
                why = str(err).split(":")[0]
                self._malformed(line_no, f"invalid JSON array item ({why}); rest of the file skipped")
                break
            numbered.append((line_no, item))
            pos = end
        if not data.rstrip().endswith(b"]"):
            self.stats.partial = True
            self.stats.notes.append(f"{self.name}: the JSON array is not closed (truncated export?): {exc}")
        yield from self._items(numbered)

    def _json_lines(self, stream: BinaryIO) -> Iterator[Mapping[str, Any]]:
        for line_no, raw in enumerate(stream, 1):
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
        for line_no, raw in enumerate(stream, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            self.stats.entries += 1
            before = text_entry(line, line_no, before)
            yield before

"""Where triage's outputs go: stdout made safe for a CI runner, and files written atomically.

Log text is hostile. On stdout a GitHub runner reads every line that starts (after leading whitespace)
with ``::`` as a workflow command, so a message carrying ``\\n::stop-commands::token`` would silence
triage's own annotations; control characters (NUL, ESC, CR) corrupt terminals and split lines.
Files are written to a temporary file in the same folder and renamed, so a kill, a full disk or a
renderer that fails halfway never leaves a truncated report that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import regex as re

from triage.errors import TriageError

# C0 and C1 controls and DEL, except tab and newline (structure in markdown and text); CR goes too, a
# runner reads it as a line break.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_COMMAND_START = re.compile(r"^(\s*)(?=::)", re.MULTILINE)


def strip_controls(text: str) -> str:
    """The text without control characters other than tab and newline."""
    return _CONTROLS.sub("", text)


def one_line(value: object) -> str:
    """A value as one line of plain text: controls removed, every kind of line break and run of spaces
    (including U+2028, U+0085) collapsed to one space."""
    return " ".join(strip_controls(str(value if value is not None else "")).split())


def stdout_safe(text: str) -> str:
    """Text for stdout that cannot issue a workflow command: no controls, and a backslash before any
    line that would start with ``::`` (in markdown ``\\:`` still renders as ``:``)."""
    return _COMMAND_START.sub(lambda m: "\\" + m[1], strip_controls(text))


def write_stdout(text: str) -> None:
    sys.stdout.write(stdout_safe(text))


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file next to ``path``, renamed over it only when the block ends
    without an exception; on any exception (KeyboardInterrupt included) the temporary file is removed
    and ``path`` is left as it was."""
    target = path.resolve() if path.is_symlink() else path  # replace the file a link points to, not the link
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would (mkstemp forces 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str | Iterable[str], *, append: bool = False) -> None:
    """Write ``text`` (or the chunks a renderer yields) to ``path`` atomically; ``append`` keeps what
    the file held before (the GitHub step summary, shared by the step's commands)."""
    chunks = [text] if isinstance(text, str) else text
    try:
        previous = path.read_bytes() if append and path.exists() else b""
        with atomic_file(path) as handle:
            handle.write(previous)
            for chunk in chunks:
                handle.write(chunk.encode("utf-8"))
    except OSError as exc:
        raise TriageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts, case-insensitive file systems
    except OSError:
        return False  # one of them does not exist yet: not the same file


def refuse_overwriting_inputs(outputs: dict[str, Path | None], inputs: Iterable[str | Path | None]) -> None:
    """A usage error when an output (``{"--out": path}``) is one of the inputs: writing it would destroy
    the logs (or baseline) being read. Checked before any work, so the input is never touched."""
    files = [Path(p) for p in inputs if p is not None and str(p) != "-"]
    for option, out in outputs.items():
        if out is None:
            continue
        for source in files:
            if _same_file(out, source):
                raise TriageError(f"{option} {out}: is the input {source}; refusing to overwrite it")

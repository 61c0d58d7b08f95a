"""YAML loading that remembers where every key came from and refuses duplicate keys.

PyYAML silently keeps the last of two equal keys, and loses line numbers once it builds dicts; a rule
author needs both, so mappings become ``PosDict`` (a dict with ``line`` and per-key ``lines``). A
duplicate key is recorded on its mapping (``duplicates``) and reported by the rule parser, which knows
the rule and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from triage.errors import RuleError


class PosDict(dict):
    """A dict that knows its own line and the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]
    # (key, line, first line): kept, not raised, so the rule parser can name the rule and key path.
    duplicates: list[tuple[Any, int, int]]


class PosList(list):
    line: int = 0
    lines: list[int]


# libyaml's parser when PyYAML has it (its wheels do): a third of the pure-Python parser's time (0.04 s
# against 0.12 s for the built-in catalog, paid by every run); the constructors below are the same.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    out = PosDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    out.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise RuleError("mapping keys must be scalars", path=loader.name, line=key_node.start_mark.line + 1)
        if key in out:
            out.duplicates.append((key, key_node.start_mark.line + 1, out.lines[key]))
            continue
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    out = PosList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# The nodes a document may stand for once every alias is expanded: rule files are a few thousand at most,
# a "billion laughs" file of 600 bytes is 9^9. Aliases share one object, but every later walk expands them.
MAX_EXPANDED_NODES = 200_000


def _expanded_size(root: yaml.Node) -> int:
    """Node count with aliases expanded, memoised per node: linear in the file, however it multiplies."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()  # a recursive alias (an anchor used inside itself) is counted once
    order: list[tuple[yaml.Node, bool]] = [(root, False)]
    while order:  # iterative post-order: a deep document must not hit the recursion limit here
        node, ready = order.pop()
        if id(node) in sizes or (not ready and id(node) in visiting):
            continue
        children = _children(node)
        if ready or not children:
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 0) for c in children), MAX_EXPANDED_NODES + 1)
            continue
        visiting.add(id(node))
        order.append((node, True))
        order.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml(path: Path, display: str | None = None) -> Any:
    """Parse one YAML document; errors name the file and line."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"cannot read: {exc}", path=name) from None
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses NUL, BEL and other controls here, before any parsing
        loader.name = name
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_EXPANDED_NODES:
            raise RuleError(
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (a YAML alias bomb?)",
                path=name,
                line=node.start_mark.line + 1,
            )
        return loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise RuleError(f"invalid YAML: control character {what} is not allowed", path=name, line=line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise RuleError(f"invalid YAML: {exc.problem or exc}", path=name, line=line) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"invalid YAML: {exc}", path=name) from None
    except RecursionError:
        raise RuleError("invalid YAML: nested too deeply", path=name) from None
    finally:
        if loader is not None:
            loader.dispose()


def duplicate_keys(node: Any, path: str = "") -> list[tuple[str, int, int]]:
    """Every duplicate key below ``node`` as (key path, line, first line), in document order."""
    found: list[tuple[str, int, int]] = []
    if isinstance(node, PosDict):
        for key, line, first in node.duplicates:
            found.append((f"{path}.{key}" if path else str(key), line, first))
        for key, value in node.items():
            found.extend(duplicate_keys(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(duplicate_keys(value, f"{path}[{i}]"))
    return sorted(found, key=lambda d: d[1])


def line_of(container: Any, key: Any, default: int | None = None) -> int | None:
    """Line of ``key`` inside a PosDict/PosList, falling back to the container's own line."""
    if isinstance(container, PosDict):
        return container.lines.get(key, container.line or default)
    if isinstance(container, PosList) and isinstance(key, int) and 0 <= key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", None) or default

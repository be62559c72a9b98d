"""YAML in and out through ruamel.yaml, with errors that name the file and line.

Input is bounded before anything else sees it (:mod:`mlstack.spec.limits`): the file's size
before parsing, then, while the document is composed, its number of nodes and its nesting, and
once it is composed, what its aliases expand to. A 446-byte alias bomb or a 50 MB file is one
InputError in well under a second, never a MemoryError, a RecursionError or a hang.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from mlstack.errors import InputError
from mlstack.spec import limits

INT_TAG = "tag:yaml.org,2002:int"
# YAML's core types (and the merge key): anything else (!!python/..., !!binary, !!set, a custom
# !tag) would reach a compose file as something no schema here describes.
TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge", "timestamp")
}
FIX_LIMIT = "write the values out plainly: no deep nesting, no aliases that multiply content"


class LimitError(YAMLError):
    """A document beyond one of the limits: where (a field path) and what."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field, self.problem = field, problem


class BoundedComposer(Composer):  # type: ignore[misc]
    """ruamel's composer, counting nodes and nesting as it goes and measuring aliases at the end.

    Counting while composing stops a huge document early (ruamel composes ~20,000 nodes a
    second); the alias walk runs on the composed graph, where an alias is a shared node, so
    its cost is the size of the text, not of the expansion.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # legal YAML (the later one wins); not the user's concern
        self.mlstack_nodes = self.mlstack_depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing it beyond the node count or nesting depth."""
        self.mlstack_nodes += 1
        self.mlstack_depth += 1
        if self.mlstack_nodes > limits.MAX_NODES:
            raise self._limit(f"has more than {limits.MAX_NODES:,} values")
        if self.mlstack_depth > limits.MAX_DEPTH:
            raise self._limit(f"is nested deeper than {limits.MAX_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.mlstack_depth -= 1
        if str(node.tag) not in TAGS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise LimitError(_line(node), f"the YAML tag {tag} is not accepted in this file")
        if isinstance(node, ScalarNode) and str(node.tag) == INT_TAG:
            if len(node.value) > limits.MAX_NUMBER_DIGITS:
                raise LimitError(
                    _line(node), f"a number of {len(node.value):,} digits is not a value here"
                )
        return node

    def get_single_node(self) -> Any:
        """The document's root node, once its expansion is known to be within the limits."""
        node = super().get_single_node()
        if node is not None:
            measure(node, {}, 0, "(document)")
        return node

    def _limit(self, problem: str) -> LimitError:
        mark = self.parser.peek_event().start_mark
        return LimitError(f"line {mark.line + 1}", problem)


class BoundedConstructor(RoundTripConstructor):  # type: ignore[misc]
    """ruamel's round-trip constructor; a value it cannot build names its line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """Build one value; ``ValueError`` and the like (``2024-13-45``) become a YAML error."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
            raise MarkedYAMLError(
                problem=f"this value cannot be read: {exc}", problem_mark=node.start_mark
            ) from exc


def _line(node: Any) -> str:
    return f"line {node.start_mark.line + 1}" if node.start_mark is not None else "(document)"


def measure(node: Any, memo: dict[int, Any], depth: int, path: str) -> tuple[int, int, int]:
    """(values, characters, height) of ``node`` with every alias expanded; LimitError beyond.

    Memoized per node, so a node that a thousand aliases name is measured once.
    """
    if depth > limits.MAX_DEPTH:
        raise LimitError(path or _line(node), f"is nested deeper than {limits.MAX_DEPTH} levels")
    known = memo.get(id(node))
    if known == ():
        raise LimitError(path or _line(node), "an alias refers to its own anchor (a cycle)")
    if known is None:
        memo[id(node)] = ()
        known = _measure_children(node, memo, depth, path)
        memo[id(node)] = known
    if known[0] > limits.MAX_NODES or known[1] > limits.MAX_EXPANDED_CHARS:
        raise LimitError(
            path or _line(node),
            f"its aliases expand to more than {limits.MAX_NODES:,} values or "
            f"{limits.MAX_EXPANDED_CHARS:,} characters",
        )
    if depth + known[2] > limits.MAX_DEPTH:
        raise LimitError(path or _line(node), f"is nested deeper than {limits.MAX_DEPTH} levels")
    return known


def _measure_children(node: Any, memo: dict[int, Any], depth: int, path: str) -> tuple[int, ...]:
    if isinstance(node, ScalarNode):
        return (1, len(node.value), 0)
    children: list[tuple[str, Any]] = []
    if isinstance(node, SequenceNode):
        prefix = "" if path == "(document)" else path
        children = [(f"{prefix}[{i}]", child) for i, child in enumerate(node.value)]
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else "?"
            label = f"{path}.{name}" if path != "(document)" else str(name)
            children += [(label, key), (label, value)]
    sizes = [measure(child, memo, depth + 1, label) for label, child in children]
    return (
        1 + sum(s[0] for s in sizes),
        sum(s[1] for s in sizes),
        1 + max((s[2] for s in sizes), default=0),
    )


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Composer = BoundedComposer
    yaml.Constructor = BoundedConstructor
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error or a limit becomes an InputError naming ``source``."""
    if len(text) > limits.MAX_FILE_BYTES:
        raise InputError(
            source,
            "(file size)",
            f"is {len(text):,} characters; mlstack reads at most {limits.MAX_FILE_BYTES:,}",
            limits.FIX_SIZE,
        )
    try:
        return _yaml().load(text)
    except LimitError as exc:
        raise InputError(source, exc.field, exc.problem, FIX_LIMIT) from exc
    except YAMLError as exc:
        raise _syntax_error(exc, text, source) from exc
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
        # ruamel's constructors raise these for values its resolver accepted, e.g. 2024-13-45
        raise InputError(
            source, "(document)", f"a value cannot be read: {exc}", "fix or quote the value"
        ) from exc


def _syntax_error(exc: YAMLError, text: str, source: str) -> InputError:
    """Ruamel's error as one line naming the line, without its multi-line excerpt."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}" if mark is not None else "(document)"
        problem = exc.problem or exc.context or "syntax error"
        return InputError(source, line, f"not valid YAML: {problem}", "fix the syntax at that line")
    if isinstance(exc, ReaderError):  # a character YAML does not allow (a control character)
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else 0
        character = exc.character if isinstance(exc.character, int) else 0
        return InputError(
            source,
            f"line {line}" if line else "(document)",
            f"not valid YAML: character U+{character:04X} is not allowed ({exc.reason})",
            "remove the character, or write it as an escape in a double-quoted string",
        )
    return InputError(source, "(document)", f"not valid YAML: {exc}", "fix the YAML syntax")


def read_source(path: Path, label: str, root: Path | None = None) -> str:
    """A YAML file's text (bounded; inside ``root`` if given), or an InputError naming it."""
    try:
        return limits.read_bounded(path, label, root=root)
    except FileNotFoundError as exc:
        raise InputError(label, "", "file not found", "run `mlstack init` first") from exc


def load_file(path: Path, source: str | None = None, root: Path | None = None) -> Any:
    """Read and parse a YAML file into plain data (comments dropped; parse results cached).

    A cached result is exactly what a fresh parse returns: only documents made of JSON's own
    types are cached (a YAML date, say, is parsed every time).
    """
    from mlstack.spec import cache

    label = source or str(path)
    text = read_source(path, label, root)
    return cache.remembered(
        "yaml", cache.key("yaml", limits.stamp(), text), lambda: to_plain(load_text(text, label))
    )


def load_document(path: Path, source: str | None = None, root: Path | None = None) -> Any:
    """Read and parse a YAML file keeping comments and layout, for editing it in place."""
    label = source or str(path)
    return load_text(read_source(path, label, root), label)


def dump(data: Any, header: str = "") -> str:
    """Serialise ``data`` as YAML, preceded by ``header`` comment lines."""
    buf = io.StringIO()
    _yaml().dump(to_plain(data), buf)
    lines = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return lines + buf.getvalue()


def dump_document(data: Any) -> str:
    """Serialise a document loaded with :func:`load_text`, keeping its comments and layout."""
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def to_plain(data: Any, depth: int = 0) -> Any:
    """Turn ruamel's commented containers and tuples into plain dicts and lists.

    Loaded documents are within :data:`limits.MAX_DEPTH`; the check here keeps a
    self-referencing structure built in code from recursing without end.
    """
    if depth > 2 * limits.MAX_DEPTH:
        raise ValueError(f"data nested deeper than {2 * limits.MAX_DEPTH} levels")
    if isinstance(data, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [to_plain(v, depth + 1) for v in data]
    for kind in (bool, str, int, float):  # ruamel's scalar subclasses keep their quoting style
        if isinstance(data, kind):
            return kind(data)
    return data

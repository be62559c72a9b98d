"""Give every comment of a round-trip YAML document to the key it stands above.

ruamel.yaml stores a comment line in the *previous* node's trailing token: the comment above
``redis:`` belongs to the last scalar of ``api``. Deleting ``api`` would delete it, inserting a
key after ``api`` would move it. :func:`attach_comments` moves every full-line comment (and blank
line) into the "before" slot of the key or list item that follows it, as the raw text it was,
indentation and all; a trailing token keeps only its end-of-line comment. The emitter writes
"before" slots verbatim, so a document dumps to the same bytes, and a key taken, dropped or moved
by the merge takes its comments along.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

Collection = CommentedMap | CommentedSeq


class _Pending:
    """Comment text read but not yet given to the entry that follows it."""

    def __init__(self) -> None:
        self.text = ""
        self.seen: set[int] = set()

    def take_post(self, token: Any) -> Any:
        """Keep a trailing token's end-of-line comment, queue the lines after it."""
        if token is None or id(token) in self.seen:
            return token
        self.seen.add(id(token))
        eol, _, rest = token.value.partition("\n")
        self.text += rest
        if not eol.strip():
            return None
        token.value = eol + "\n"
        return token

    def take_pre(self, tokens: Any) -> None:
        """Queue full-line comment tokens, restoring the indentation of their first line."""
        for token in tokens or ():
            if id(token) in self.seen:
                continue
            self.seen.add(id(token))
            value = token.value
            indent = " " * token.start_mark.column if value.startswith("#") else ""
            self.text += indent + value

    def give(self) -> list[CommentToken] | None:
        """The queued text as one "before" token, emptying the queue."""
        text, self.text = self.text, ""
        return [before_token(text)] if text else None


def before_token(text: str) -> CommentToken:
    """A "before" comment token the emitter writes verbatim at column 0."""
    return CommentToken(text, CommentMark(0), None)


def is_block(node: Any) -> bool:
    """True for a block-style mapping or list (flow ones hold no line comments)."""
    return isinstance(node, Collection) and not node.fa.flow_style()


def attach_comments(root: Any) -> str:
    """Move every full-line comment of ``root`` above its entry; return the document's tail.

    The tail is the comment text after the last entry, which the caller writes after the dump.
    """
    pending = _Pending()
    if is_block(root):
        pending.take_pre(root.ca.comment[1] if root.ca.comment else None)
        if root.ca.comment:
            root.ca.comment[1] = None
        _walk(root, pending)
    return pending.text


def _walk(node: Collection, pending: _Pending) -> None:
    """Visit ``node``'s entries in document order, queueing and placing comments."""
    entries = list(node.keys()) if isinstance(node, CommentedMap) else range(len(node))
    post, before = (2, 1) if isinstance(node, CommentedMap) else (0, 1)
    for key in entries:
        slots = node.ca.items.get(key)
        if slots is not None:
            pending.take_pre(slots[before])
            slots[before] = None
        if pending.text:
            node.ca.items.setdefault(key, [None, None, None, None])[before] = pending.give()
        if slots is not None:
            slots[post] = pending.take_post(slots[post])
            if isinstance(node, CommentedMap):
                pending.take_pre(slots[3])
                slots[3] = None
        _descend(node[key], pending)
    pending.take_pre(getattr(node.ca, "end", None))
    node.ca.end = None


def _descend(value: Any, pending: _Pending) -> None:
    """Enter a block collection value: its start comments come before its first entry."""
    if not is_block(value):
        return
    if value.ca.comment:
        value.ca.comment[0] = pending.take_post(value.ca.comment[0])
        pending.take_pre(value.ca.comment[1])
        value.ca.comment[1] = None
    _walk(value, pending)


def entry_comments(parent: Any, key: Any) -> list[str]:
    """Every comment line of ``parent[key]``: above it, after it and inside it, stripped."""
    if not isinstance(parent, Collection) or key not in _keys(parent):
        return []
    return _lines(_slot_tokens(parent, key)) + value_comments(parent[key])


def value_comments(value: Any) -> list[str]:
    """Every comment line inside a collection value (those its entries carry), stripped."""
    if not is_block(value):
        return []
    return [line for key in _keys(value) for line in entry_comments(value, key)]


def _keys(node: Collection) -> Any:
    return node if isinstance(node, CommentedMap) else range(len(node))


def _slot_tokens(parent: Collection, key: Any) -> list[CommentToken]:
    tokens: list[CommentToken] = []
    for slot in parent.ca.items.get(key) or ():
        for token in slot if isinstance(slot, list) else [slot]:
            if token is not None and all(token is not seen for seen in tokens):
                tokens.append(token)
    return tokens


def _lines(tokens: list[CommentToken]) -> list[str]:
    return [line.strip() for token in tokens for line in token.value.splitlines() if line.strip()]

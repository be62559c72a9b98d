"""Three-way merge of YAML documents by key path, editing the user's document in place.

For every key path: changed on one side only -> that side; changed alike -> fine; changed
differently -> a conflict that keeps the user's value. Mappings merge key by key. Lists are
values, except the compose lists that are sets (``SET_LISTS``: ports, volumes, cap_drop, ...)
when all sides hold scalars: those merge item by item. A change that would drop a comment the user
wrote (removing the key it sits on, replacing the list it sits in) is a conflict too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlstack.render.merge_records import Conflict
from mlstack.render.yaml_comments import entry_comments, is_block, value_comments
from mlstack.spec.yamlio import to_plain

#: Compose keys whose list order carries no meaning: merged as sets of scalar items.
#: ``command``, ``entrypoint``, ``healthcheck.test`` and the like are ordered: whole values.
SET_LISTS = frozenset(
    {
        "ports", "expose", "volumes", "tmpfs", "networks", "cap_add", "cap_drop",
        "security_opt", "dns", "dns_search", "extra_hosts", "env_file", "profiles",
        "devices", "group_add", "secrets", "configs", "links", "external_links",
    }
)  # fmt: skip

MISSING: Any = object()


@dataclass
class _Merge:
    """The state of one document's merge: the resolutions asked for, what was found, done."""

    file: str
    resolve: Mapping[str, str]
    conflicts: list[Conflict] = field(default_factory=list)
    changed: bool = False

    def conflict(self, path: str, ours: Any, theirs: Any) -> None:
        self.conflicts.append(Conflict(self.file, path, show(ours), show(theirs)))


def merge_tree(
    file: str,
    base: CommentedMap,
    ours: CommentedMap,
    theirs: CommentedMap,
    resolve: Mapping[str, str],
) -> tuple[list[Conflict], bool]:
    """Merge ``theirs``' changes since ``base`` into ``ours``; return conflicts and "changed".

    ``resolve`` maps a key path to "ours" or "theirs": that side wins at that path and below,
    conflict or not.
    """
    merge = _Merge(file, resolve)
    _merge_map(merge, "", base, ours, theirs, None)
    return merge.conflicts, merge.changed


def key_path(parent: str, key: Any) -> str:
    """``parent.key``; a key holding a dot, a space or a quote is written as a JSON string."""
    text = str(key)
    if not text or any(c in text for c in ". \"'[]"):
        text = json.dumps(text)
    return f"{parent}.{text}" if parent else text


def _merge_map(
    merge: _Merge, path: str, base: Any, ours: CommentedMap, theirs: CommentedMap, forced: Any
) -> None:
    base = base if isinstance(base, Mapping) else {}
    had = list(ours.keys())
    for key in had + [k for k in theirs if k not in had]:
        _merge_entry(merge, key_path(path, key), key, (base, ours, theirs), forced)


def _merge_entry(merge: _Merge, path: str, key: Any, maps: tuple, forced: Any) -> None:
    """Merge one key of three mappings into ``ours``."""
    base, ours, theirs = maps
    b, o, t = (m.get(key, MISSING) if isinstance(m, Mapping) else MISSING for m in maps)
    forced = merge.resolve.get(path, forced)
    if forced == "ours" or same(o, t):
        return
    if isinstance(o, Mapping) and isinstance(t, Mapping):  # key by key keeps the user's layout
        _merge_map(merge, path, b, o, t, forced)
    elif forced == "theirs" or (same(b, o) and not _drops_comments(base, ours, key, t)):
        _take(merge, ours, theirs, key)
    elif same(b, t):
        return
    elif _is_set_list(key, b, o, t):
        _merge_set(merge, path, b if isinstance(b, list) else [], o, t)
    else:
        merge.conflict(path, o, t)


def _drops_comments(base: Any, ours: CommentedMap, key: Any, theirs_value: Any) -> bool:
    """True if taking the render's value would drop a comment the user wrote at ``key``."""
    if key not in ours:
        return False
    if theirs_value is MISSING:
        return entry_comments(ours, key) != entry_comments(base, key)
    old = base.get(key) if isinstance(base, Mapping) else None
    return value_comments(ours[key]) != value_comments(old)


def _take(merge: _Merge, ours: CommentedMap, theirs: CommentedMap, key: Any) -> None:
    """Make ``ours[key]`` what the render has, keeping the user's comments on the key."""
    merge.changed = True
    if key not in theirs:
        if key in ours:
            del ours[key]
            ours.ca.items.pop(key, None)
    elif key in ours:
        ours[key] = copy.deepcopy(theirs[key])
    else:
        ours.insert(_position(list(ours), list(theirs), key), key, copy.deepcopy(theirs[key]))
        if key in theirs.ca.items:
            ours.ca.items[key] = copy.deepcopy(theirs.ca.items[key])


def _position(ours: list, theirs: list, item: Any) -> int:
    """Where ``item`` goes in ``ours``, to stand beside the neighbours it has in ``theirs``.

    After its nearest predecessor that ``ours`` has, else before its nearest successor, else
    at the end.
    """
    at = theirs.index(item)
    for before in reversed(theirs[:at]):
        if before in ours:
            return ours.index(before) + 1
    for after in theirs[at + 1 :]:
        if after in ours:
            return ours.index(after)
    return len(ours)


def _is_set_list(key: Any, base: Any, ours: Any, theirs: Any) -> bool:
    scalar_lists = [
        isinstance(v, list) and not any(isinstance(x, (list, Mapping)) for x in v)
        for v in (ours, theirs, base if isinstance(base, list) else [])
    ]
    return key in SET_LISTS and all(scalar_lists)


def _merge_set(merge: _Merge, path: str, base: list, ours: CommentedSeq, theirs: list) -> None:
    """Merge a set-like list item by item; the same item replaced on both sides conflicts."""
    ours_added = [x for x in ours if x not in base]
    theirs_added = [x for x in theirs if x not in base]
    removed_both = [x for x in base if x not in ours and x not in theirs]
    dropped = [x for x in base if x not in theirs and x in ours]
    commented = any(_item_comments(ours, x) != _item_comments(base, x) for x in dropped)
    replaced = removed_both and ours_added and theirs_added
    if commented or (replaced and _fps(ours_added) != _fps(theirs_added)):
        merge.conflict(path, ours, theirs)
        return
    for item in dropped:
        del ours[ours.index(item)]
        merge.changed = True
    for item in theirs_added:
        if item not in ours:
            ours.insert(_position(list(ours), list(theirs), item), item)
            merge.changed = True


def _fps(items: list) -> set[str]:
    return set(map(fingerprint, items))


def _item_comments(items: list, item: Any) -> list[str]:
    return entry_comments(items, items.index(item)) if is_block(items) else []


def fingerprint(value: Any) -> str:
    """A value as comparable text, so values compare as data.

    Types count (``1``, ``"1"`` and ``true`` differ); key order and comments do not.
    """
    if value is MISSING:
        return "\0missing"
    return json.dumps(to_plain(value), sort_keys=True, default=repr)


def same(a: Any, b: Any) -> bool:
    """True if two values (or absences) are equal as data."""
    return fingerprint(a) == fingerprint(b)


def show(value: Any) -> str:
    """A value for a conflict listing: a string as is, other values as JSON, or ``(absent)``."""
    if value is MISSING:
        return "(absent)"
    plain = to_plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain)

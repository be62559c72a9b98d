"""The prod hardening, applied last, and the exceptions ``allow:`` grants over it.

``overrides/prod.yaml``'s ``hardening`` (``cap_drop: [ALL]``, ``no-new-privileges``) is put
over each service's prod keys after the fragment's ``prod:``: its lists keep the service's own
extra items, its other values replace the service's. Only an exception named in mlstack.yaml's
``allow:`` wins over it, and then explicitly, in compose.prod.yaml itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from mlstack.spec.policy import Privilege
from mlstack.spec.privileges import option_name


def harden(
    service: dict[str, Any], hardening: dict[str, Any], allowed: Iterable[Privilege]
) -> dict[str, Any]:
    """A service's prod keys with the hardening over them, then the allowed exceptions."""
    out = copy.deepcopy(service)
    for key, rule in hardening.items():
        if isinstance(rule, list):
            own = [item for item in _each(out.get(key, [])) if item not in rule]
            out[key] = [*copy.deepcopy(rule), *own]
        else:
            out[key] = copy.deepcopy(rule)
    for granted in allowed:
        if granted.in_prod:
            _grant(out, granted, hardening)
    return out


def _grant(out: dict[str, Any], granted: Privilege, hardening: dict[str, Any]) -> None:
    """Let one allowed exception win where the hardening or the fragment's prod: set the key."""
    if granted.setting == "security_opt" and granted.listed:
        name = option_name(granted.value)[0]
        ruled = {option_name(option)[0] for option in _each(hardening.get("security_opt", []))}
        if name in ruled:
            kept = [o for o in out.get("security_opt", []) if option_name(o)[0] != name]
            out["security_opt"] = [*kept, granted.value]
    elif not granted.listed and (granted.setting in out or granted.setting in hardening):
        out[granted.setting] = copy.deepcopy(granted.value)


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

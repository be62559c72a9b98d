"""A GPU choice, one shape from the ``--gpu`` flag to compose's device request.

``none``, ``all``, a count, or device ids. One parser reads every spelling a user writes (the
flag's text, or mlstack.yaml's value); one serializer writes mlstack.yaml's value back; the compose
request is derived from the same record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXPECTED = "expected none, all, a count or device ids"


@dataclass(frozen=True)
class GpuChoice:
    """Which GPUs a service gets: ``kind`` is none, all, count or ids."""

    kind: str = "none"
    count: int = 0
    ids: tuple[str, ...] = ()

    @property
    def wanted(self) -> bool:
        """Whether this asks for any GPU at all."""
        return self.kind != "none"

    @classmethod
    def parse(cls, value: Any) -> GpuChoice:
        """``none``, ``all``, a count (``2``) or device ids (``0,1``, one id as ``3,``, a list).

        Raises ValueError naming what was expected; the caller says which flag or field it was.
        """
        if isinstance(value, bool):
            raise ValueError(f"{EXPECTED}, got {value!r}")
        if isinstance(value, int):
            return _count(value, value)
        if isinstance(value, (list, tuple)):
            return _ids([str(v) for v in value], value)
        text = str(value).strip().lower()
        if text in ("none", "all"):
            return cls(text)
        if "," in text:
            return _ids([part.strip() for part in text.split(",") if part.strip()], value)
        if text.isdigit():
            return _count(int(text), value)
        raise ValueError(f"{EXPECTED}, got {value!r}")

    def to_yaml(self) -> Any:
        """mlstack.yaml's value: ``none``, ``all``, a count, or a list of ids."""
        if self.kind == "count":
            return self.count
        if self.kind == "ids":
            return list(self.ids)
        return self.kind

    def compose_request(self) -> dict[str, Any]:
        """The entry of ``deploy.resources.reservations.devices`` for this choice."""
        request: dict[str, Any] = {"driver": "nvidia"}
        if self.kind == "ids":
            request["device_ids"] = list(self.ids)
        else:
            request["count"] = self.count if self.kind == "count" else "all"
        request["capabilities"] = ["gpu"]
        return request


NO_GPU = GpuChoice("none")
ALL_GPUS = GpuChoice("all")


def _count(number: int, given: Any) -> GpuChoice:
    if number < 1:
        raise ValueError(f"{EXPECTED}, got {given!r}")
    return GpuChoice("count", count=number)


def _ids(ids: list[str], given: Any) -> GpuChoice:
    if not ids or not all(part.replace("-", "").isalnum() for part in ids):
        raise ValueError(f"{EXPECTED}, got {given!r}")
    twice = [i for n, i in enumerate(ids) if i in ids[:n]]  # 0 and "0" are the same GPU
    if twice:
        raise ValueError(f"device {twice[0]} is listed twice: list each GPU once")
    return GpuChoice("ids", ids=tuple(ids))


def per_service(
    default: GpuChoice, capable: list[str], services: list[str] | dict[str, Any] | None
) -> dict[str, GpuChoice]:
    """Each GPU-capable service's choice (the one merge of mlstack.yaml's ``gpu:`` section).

    ``services`` absent: every capable service gets ``default``; a list: those services get it;
    a mapping: its own choices over ``default`` for the other capable services.
    """
    if services is None:
        chosen = dict.fromkeys(capable, default)
    elif isinstance(services, dict):
        own = {name: GpuChoice.parse(value) for name, value in services.items()}
        chosen = {**dict.fromkeys(capable, default), **own}
    else:
        chosen = dict.fromkeys(services, default)
    return {name: choice for name, choice in chosen.items() if choice.wanted}

"""The component catalog: fragments from ``stacks/`` (shipped and the user's), validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.errors import InputError
from mlstack.resources import data_dir
from mlstack.spec.interpolation import check_interpolation
from mlstack.spec.limits import MAX_USER_FRAGMENTS
from mlstack.spec.placeholders import IMAGE_PLACEHOLDERS, URL_PLACEHOLDERS, check_placeholders
from mlstack.spec.schema import validate
from mlstack.spec.yamlio import load_file, to_plain

USER_STACKS = "stacks"  # a directory of extra fragments next to mlstack.yaml


@dataclass(frozen=True)
class Fragment:
    """One component: the data of a ``stacks/NAME.yaml`` file."""

    name: str
    summary: str
    image: str
    service: dict[str, Any]
    source: str
    kind: str = "service"
    images: dict[str, str] = field(default_factory=dict)
    build: str | None = None
    port: int | None = None
    publish_in_prod: bool = False
    secrets: tuple[str, ...] = ()
    provides: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    serves: tuple[str, ...] = ()  # the services that get its provides (a user fragment's reach)
    waits_for: tuple[str, ...] = ()  # hard dependencies: started only once these are healthy
    database: str | None = None
    with_: dict[str, dict[str, Any]] = field(default_factory=dict)
    gpu: bool = False
    shm: bool = False
    volumes: dict[str, str] = field(default_factory=dict)
    dev: dict[str, Any] = field(default_factory=dict)
    prod: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    run_as: dict[str, int] = field(default_factory=dict)  # numeric uid/gid (Kubernetes)
    start: tuple[str, ...] = ()  # the image's own ENTRYPOINT + CMD, for a wrapper (Swarm)
    file_env: tuple[str, ...] = ()  # variables the image also reads from VAR_FILE

    @property
    def is_job(self) -> bool:
        """Jobs sit in a compose profile that ``up`` does not start."""
        return self.kind == "job"


Catalog = dict[str, Fragment]


@dataclass(frozen=True)
class Rules:
    """Dev or prod rules from ``overrides/``.

    ``every_service`` and ``every_job`` are defaults a fragment's keys may change;
    ``hardening`` is applied after everything else, and only an ``allow:`` entry undoes it.
    """

    publish_address: str
    every_service: dict[str, Any]
    every_job: dict[str, Any]
    hardening: dict[str, Any] = field(default_factory=dict)


def fragment_from_data(data: dict[str, Any], source: str) -> Fragment:
    """Validate one parsed fragment and build its record."""
    validate(data, "fragment", source, "see the fragment format in README.md (Fragments)")
    data = to_plain(data)
    for slot, ref in data.get("images", {}).items():
        check_placeholders(ref, IMAGE_PLACEHOLDERS, source, f"images.{slot}")
    if "url" in data:
        check_placeholders(data["url"], URL_PLACEHOLDERS, source, "url")
    for key in ("service", "dev", "prod", "with", "provides"):
        check_interpolation(data.get(key), source, key)
    stem = Path(source).stem
    if data["name"] != stem:
        raise InputError(
            source,
            "name",
            f"is {data['name']!r} but the file is {stem}.yaml",
            f"rename the file to {data['name']}.yaml or set name: {stem}",
        )
    build = data.pop("build", None)
    names = ("secrets", "requires", "uses", "serves", "waits_for", "start", "file_env")
    lists = {k: tuple(data.pop(k, ())) for k in names}
    return Fragment(
        source=source,
        build=build["template"] if build else None,
        with_=data.pop("with", {}),
        **lists,
        **data,
    )


def load_catalog(
    project_dir: Path | None = None, broken: dict[str, InputError] | None = None
) -> Catalog:
    """The shipped fragments plus the user's ``stacks/`` next to mlstack.yaml (which win).

    ``broken``: where a user fragment that does not load goes instead of raising (name -> its
    error), for commands that need only the fragments the stack uses (``spec.in_use``).
    """
    catalog: Catalog = {}
    for path, label, root in _fragment_files(project_dir):
        try:
            catalog[path.stem] = _fragment(path, label, root)
        except InputError as exc:
            if broken is None or root is None:
                raise
            broken[path.stem] = exc
    if broken is None:
        check_references(catalog)
    return catalog


def _fragment(path: Path, label: str, root: Path | None) -> Fragment:
    data = load_file(path, label, root=root)
    if not isinstance(data, dict):
        raise InputError(
            label,
            "",
            "a fragment must be a YAML mapping",
            "start from a shipped fragment, e.g. `mlstack components`",
        )
    return fragment_from_data(data, label)


def _fragment_files(project_dir: Path | None) -> list[tuple[Path, str, Path | None]]:
    """(path, label, project) of every fragment: shipped first, then the user's (bounded)."""
    files: list[tuple[Path, str, Path | None]] = [
        (path, str(path), None) for path in sorted(data_dir("stacks").glob("*.yaml"))
    ]
    if project_dir is None or not (project_dir / USER_STACKS).is_dir():
        return files
    user = sorted((project_dir / USER_STACKS).glob("*.yaml"))
    if len(user) > MAX_USER_FRAGMENTS:
        raise InputError(
            USER_STACKS,
            "",
            f"holds {len(user)} fragments; mlstack reads at most {MAX_USER_FRAGMENTS}",
            "keep the fragments this stack uses",
        )
    return files + [(path, f"{USER_STACKS}/{path.name}", project_dir) for path in user]


def check_references(catalog: Catalog) -> None:
    """Every component a fragment names, and every image slot it runs, must exist."""
    slots = {slot for frag in catalog.values() for slot in frag.images}
    for frag in catalog.values():
        if frag.image not in slots:
            raise InputError(
                frag.source,
                "image",
                f"image slot {frag.image!r} has no default",
                f"add `images: {{{frag.image}: REGISTRY/IMAGE:TAG}}` to the fragment",
            )
    for frag in catalog.values():
        for key, names in (
            ("requires", frag.requires),
            ("uses", frag.uses),
            ("serves", frag.serves),
            ("with", tuple(frag.with_)),
        ):
            for name in names:
                if name not in catalog:
                    raise InputError(
                        frag.source,
                        key,
                        f"unknown component {name!r}",
                        f"known components: {', '.join(sorted(catalog))}",
                    )
        _check_waits(frag)


def _check_waits(frag: Fragment) -> None:
    """A hard dependency is one of the components the fragment requires or uses."""
    for name in frag.waits_for:
        if name not in (*frag.requires, *frag.uses):
            raise InputError(
                frag.source,
                "waits_for",
                f"{name!r} is not under requires or uses",
                f"add {name} to uses (or requires), or remove it from waits_for",
            )


def load_rules(profile: str) -> Rules:
    """The dev or prod rules shipped in ``overrides/``."""
    path = data_dir("overrides") / f"{profile}.yaml"
    data = load_file(path)
    validate(data, "overrides", str(path), "restore the file from the mlstack release")
    return Rules(
        data["publish_address"],
        dict(data["every_service"]),
        dict(data.get("every_job", {})),
        dict(data.get("hardening", {})),
    )

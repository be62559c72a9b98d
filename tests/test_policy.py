"""Privileged settings are explicit: every hostile setting, in every layer, refused or allowed.

A hostile component (``stacks/evil.yaml``, or a shadow of a shipped one) asks for each setting
that reaches outside the container, in each layer of its compose keys (``service``, ``dev``,
``prod``, ``with.redis.service``) and through mlstack.yaml's ``services.<name>.compose``. Each
case asserts the refusal (exit 2, the file, the field, the exact ``allow:`` entry as the fix),
then pastes that very entry into mlstack.yaml and asserts the stack is accepted, the exception is
recorded, and the rendered compose carries it. ``docker compose config`` judges the allowed
stacks in ``test_policy_judges.py``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mlstack.errors import ExitCode, InputError
from mlstack.render.compose_model import build_compose
from mlstack.spec.catalog import Fragment, fragment_from_data, load_catalog, load_rules
from mlstack.spec.privileges import CHECKS, HOST_PATHS, option_name
from mlstack.spec.stack_spec import StackSpec, spec_from_document

pytestmark = pytest.mark.usefixtures("cpu_only_host")

CATALOG = load_catalog()
DEV, PROD = load_rules("dev"), load_rules("prod")
ALL = ("api", "jupyter", "mlflow", "postgres", "qdrant", "redis", "trainer")
SYSTEM = (
    "/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/var/run", "/run", "/usr", "/lib",
    "/bin", "/sbin", "/var/lib/docker",
)  # fmt: skip

# (id, compose keys of one layer, the field refused (inside the layer), the value allowed)
HOSTILE: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("privileged", {"privileged": True}, "privileged", {"privileged": True}),
    ("privileged-yes", {"privileged": "yes"}, "privileged", {"privileged": True}),
    ("privileged-interpolated", {"privileged": "${P:-true}"}, "privileged", {"privileged": True}),
    ("network-host", {"network_mode": "host"}, "network_mode", {"network_mode": "host"}),
    (
        "network-container",
        {"network_mode": "container:other"},
        "network_mode",
        {"network_mode": "container:other"},
    ),
    ("pid-host", {"pid": "host"}, "pid", {"pid": "host"}),
    ("ipc-host", {"ipc": "host"}, "ipc", {"ipc": "host"}),
    ("ipc-container", {"ipc": "container:x"}, "ipc", {"ipc": "container:x"}),
    ("uts-host", {"uts": "host"}, "uts", {"uts": "host"}),
    ("userns-host", {"userns_mode": "host"}, "userns_mode", {"userns_mode": "host"}),
    ("cgroup-host", {"cgroup": "host"}, "cgroup", {"cgroup": "host"}),
    ("cap-add", {"cap_add": ["NET_ADMIN"]}, "cap_add[0]", {"cap_add": ["NET_ADMIN"]}),
    ("cap-add-prefixed", {"cap_add": ["cap_sys_admin"]}, "cap_add[0]", {"cap_add": ["SYS_ADMIN"]}),
    ("devices", {"devices": ["/dev/fuse:/dev/fuse"]}, "devices[0]", {"devices": ["/dev/fuse"]}),
    (
        "device-rules",
        {"device_cgroup_rules": ["c 1:3 mr"]},
        "device_cgroup_rules[0]",
        {"device_cgroup_rules": ["c 1:3 mr"]},
    ),
    *[
        (f"security-opt-{opt}", {"security_opt": [opt]}, "security_opt[0]", {"security_opt": [opt]})
        for opt in (
            "seccomp=unconfined",
            "apparmor=unconfined",
            "label=disable",
            "no-new-privileges=false",
            "no-new-privileges:false",
            "systempaths=unconfined",
        )
    ],
    (
        "sysctls",
        {"sysctls": {"net.ipv4.ip_forward": 1}},
        "sysctls.net.ipv4.ip_forward",
        {"sysctls": ["net.ipv4.ip_forward"]},
    ),
    ("cgroup-parent", {"cgroup_parent": "/host"}, "cgroup_parent", {"cgroup_parent": "/host"}),
    ("api-socket", {"use_api_socket": True}, "use_api_socket", {"use_api_socket": True}),
    ("provider", {"provider": {"type": "evil"}}, "provider", {"provider": "evil"}),
    (
        "extends-file",
        {"extends": {"file": "other.yaml", "service": "x"}},
        "extends.file",
        {"extends": "other.yaml"},
    ),
    (
        "volumes-from-container",
        {"volumes_from": ["container:db"]},
        "volumes_from[0]",
        {"volumes_from": ["container:db"]},
    ),
    (
        "hook-privileged",
        {"post_start": [{"command": "id", "privileged": True}]},
        "post_start[0].privileged",
        {"privileged": True},
    ),
    *[
        (f"bind-{source}", {"volumes": [f"{source}:/host"]}, "volumes[0]", {"volumes": [source]})
        for source in (
            "/var/run/docker.sock",
            "/run/docker.sock",
            "./sub/docker.sock",
            "/",
            *SYSTEM,
            "/home/someone",
            "..",
            "../sibling",
            "./a/../../x",
            "~/.ssh",
            "${HOME}",
            ".",
            "./.git",
        )
    ],
    (
        "bind-long-syntax",
        {"volumes": [{"type": "bind", "source": "/", "target": "/host"}]},
        "volumes[0]",
        {"volumes": ["/"]},
    ),
    (
        "npipe",
        {"volumes": [{"type": "npipe", "source": "\\\\.\\pipe\\docker_engine", "target": "/p"}]},
        "volumes[0]",
        {"volumes": ["\\\\.\\pipe\\docker_engine"]},
    ),
    ("secrets", {"secrets": ["pip_ca"]}, "secrets[0]", {"secrets": ["pip_ca"]}),
    (
        "env-file",
        {"env_file": ["/etc/environment"]},
        "env_file[0]",
        {"env_file": ["/etc/environment"]},
    ),
    ("env-file-up", {"env_file": "../secrets.env"}, "env_file", {"env_file": ["../secrets.env"]}),
    ("label-file", {"label_file": "~/labels"}, "label_file", {"label_file": ["~/labels"]}),
    (
        "watch-outside",
        {"develop": {"watch": [{"path": "/", "action": "sync", "target": "/x"}]}},
        "develop.watch[0].path",
        {"develop": ["/"]},
    ),
]
# Root is refused only where it reaches prod (every layer but `dev`).
ROOT = [
    ("user-root", {"user": "root"}, "user", {"user": "root"}),
    ("user-0", {"user": "0"}, "user", {"user": "0"}),  # compose-spec: user is a string
    ("user-0-group", {"user": "0:0"}, "user", {"user": "0:0"}),
    ("user-00", {"user": "00"}, "user", {"user": "00"}),
    ("user-interpolated", {"user": "${U}"}, "user", {"user": "${U}"}),
    (
        "hook-root",
        {"pre_stop": [{"command": "id", "user": "root"}]},
        "pre_stop[0].user",
        {"user": "root"},
    ),
]
LAYERS = ("service", "dev", "prod", "with.redis.service")


def ids(cases: list[tuple[str, Any, Any, Any]]) -> list[str]:
    return [case[0] for case in cases]


def evil(name: str = "evil", **layers: Any) -> Fragment:
    """A component whose compose keys are ``layers`` (``service``, ``dev``, ``prod``, ``with``)."""
    data = {"name": name, "summary": "a hostile component", "image": "redis", "service": {}}
    return fragment_from_data({**data, **copy.deepcopy(layers)}, f"stacks/{name}.yaml")


def in_layer(layer: str, body: dict[str, Any]) -> dict[str, Any]:
    """Fragment keys that put ``body`` in ``layer``."""
    if layer.startswith("with."):
        return {"with": {"redis": {"service": body}}}
    return {layer: body}


def spec_of(frag: Fragment, **extra: Any) -> StackSpec:
    doc = {"name": "demo", "components": [frag.name, "redis"], **extra}
    return spec_from_document(doc, {**CATALOG, frag.name: frag})


def refusal(frag: Fragment, **extra: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        spec_of(frag, **extra)
    return caught.value


def allow_entry(error: InputError) -> dict[str, Any]:
    """The ``allow:`` entry the fix names, parsed as YAML: what a user would paste."""
    found = re.search(r"`(allow: \{.*\})`", error.fix)
    assert found, error.fix
    return YAML(typ="safe").load(found.group(1))["allow"]


def assert_refused(error: InputError, source: str, field: str, entry: dict[str, Any]) -> None:
    assert error.exit_code == ExitCode.BAD_INPUT == 2
    assert (error.source, error.field) == (source, field), str(error)
    assert str(error).startswith(f"{source}: {field}: "), str(error)
    assert "mlstack refuses this unless mlstack.yaml allows it" in error.problem
    assert allow_entry(error) == entry, error.fix


def test_the_cases_cover_every_privileged_key() -> None:
    asked = {next(iter(body)) for _, body, _, _ in HOSTILE + ROOT}
    assert set(CHECKS) | set(HOST_PATHS) <= asked | {"pre_start"}  # a hook like the other two


SAFE = {
    "privileged": False,
    "network_mode": "service:redis",
    "ipc": "shareable",
    "pid": "service:redis",
    "cgroup": "private",
    "security_opt": ["no-new-privileges:true", "no-new-privileges"],
    "user": "1000:0",
    "read_only": True,
    "volumes": [
        "data:/data",
        "/cache",
        "./data:/d:ro",
        "./a/../b:/b",
        {"type": "tmpfs", "target": "/t"},
    ],
    "env_file": ["./app.env"],
    "volumes_from": ["redis:ro"],
    "extends": {"service": "redis"},
    "cap_drop": ["ALL", "NET_RAW"],
}


@pytest.mark.parametrize("layer", LAYERS)
def test_safe_values_need_no_exception(layer: str) -> None:
    assert spec_of(evil(**in_layer(layer, SAFE))).allowed == ()


def test_shipped_fragments_need_no_exception() -> None:
    spec = spec_from_document({"name": "demo", "components": list(ALL)}, CATALOG)
    assert spec.allowed == () and spec.unused_allow == ()


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(
    ("case", "body", "field", "allowed"), HOSTILE + ROOT, ids=ids(HOSTILE + ROOT)
)
def test_a_privileged_setting_is_refused_then_allowed(
    layer: str, case: str, body: dict[str, Any], field: str, allowed: dict[str, Any]
) -> None:
    frag = evil(**in_layer(layer, body))
    if layer == "dev" and (case, body, field, allowed) in ROOT:  # dev never reaches prod
        assert spec_of(frag).allowed == ()
        return
    error = refusal(frag)
    assert_refused(error, "stacks/evil.yaml", f"{layer}.{field}", {"evil": allowed})
    spec = spec_of(frag, allow=allow_entry(error))
    setting = next(iter(allowed))
    assert [(p.service, p.setting, p.field) for p in spec.allowed] == [
        ("evil", setting, f"{layer}.{field}")
    ]
    assert spec.unused_allow == ()
    build_compose(spec, {**CATALOG, "evil": frag}, DEV, PROD)  # renders (judged elsewhere)


@pytest.mark.parametrize(
    ("case", "body", "field", "allowed"), HOSTILE + ROOT, ids=ids(HOSTILE + ROOT)
)
def test_services_compose_in_mlstack_yaml_is_held_to_the_same_rules(
    case: str, body: dict[str, Any], field: str, allowed: dict[str, Any]
) -> None:
    doc = {"name": "demo", "components": ["api", "redis"], "services": {"api": {"compose": body}}}
    with pytest.raises(InputError) as caught:
        spec_from_document(doc, CATALOG)
    where = f"services.api.compose.{field}"
    assert_refused(caught.value, "mlstack.yaml", where, {"api": allowed})
    spec = spec_from_document({**doc, "allow": allow_entry(caught.value)}, CATALOG)
    assert [p.field for p in spec.allowed] == [where]
    model = build_compose(spec, CATALOG, DEV, PROD)
    assert next(iter(body)) in model.base["services"]["api"]  # merged into compose.yaml


def test_a_user_fragment_shadowing_a_shipped_name_is_checked_like_any(tmp_path: Path) -> None:
    shipped = YAML(typ="safe").load(Path(CATALOG["redis"].source).read_text())
    shipped["service"]["privileged"] = True
    (tmp_path / "stacks").mkdir()
    with (tmp_path / "stacks" / "redis.yaml").open("w") as out:
        YAML(typ="safe").dump(shipped, out)
    catalog = load_catalog(tmp_path)
    with pytest.raises(InputError) as caught:
        spec_from_document({"name": "demo", "components": ["redis"]}, catalog)
    assert_refused(
        caught.value, "stacks/redis.yaml", "service.privileged", {"redis": {"privileged": True}}
    )


@pytest.mark.parametrize(
    ("prod", "field", "allowed"),
    [
        ({"cap_drop": []}, "prod.cap_drop", {"cap_drop": []}),
        ({"cap_drop": ["NET_RAW"]}, "prod.cap_drop", {"cap_drop": ["NET_RAW"]}),
        ({"security_opt": []}, "prod.security_opt", {"security_opt": ["no-new-privileges:false"]}),
    ],
    ids=["cap-drop-emptied", "cap-drop-changed", "security-opt-removed"],
)
def test_a_fragment_that_drops_a_prod_rule_is_refused_and_the_allowed_value_wins(
    prod: dict[str, Any], field: str, allowed: dict[str, Any]
) -> None:
    frag = evil(prod=prod)
    error = refusal(frag)
    assert_refused(error, "stacks/evil.yaml", field, {"evil": allowed})
    spec = spec_of(frag, allow=allow_entry(error))
    service = build_compose(spec, {**CATALOG, "evil": frag}, DEV, PROD).prod["services"]["evil"]
    key, value = next(iter(allowed.items()))
    assert service[key] == value  # the exception, explicitly, not the rule
    assert build_compose(spec, {**CATALOG, "evil": frag}, DEV, PROD).prod["services"]["redis"][
        "cap_drop"
    ] == ["ALL"]


def test_read_only_of_prod_is_not_undone_by_a_layer_before_it() -> None:
    frag = evil(prod={"read_only": True}, service={"read_only": False})
    error = refusal(frag)
    assert_refused(error, "stacks/evil.yaml", "service.read_only", {"evil": {"read_only": False}})
    spec = spec_of(frag, allow=allow_entry(error))
    assert (
        build_compose(spec, {**CATALOG, "evil": frag}, DEV, PROD).prod["services"]["evil"][
            "read_only"
        ]
        is False
    )
    hatch = {"services": {"redis": {"compose": {"read_only": False}}}}
    with pytest.raises(InputError) as caught:
        spec_from_document({"name": "demo", "components": ["redis"], **hatch}, CATALOG)
    assert caught.value.field == "services.redis.compose.read_only"


def test_root_allowed_in_mlstack_yaml_wins_over_the_fragments_prod_user() -> None:
    doc = {
        "name": "demo",
        "components": ["redis"],
        "services": {"redis": {"compose": {"user": "root"}}},
        "allow": {"redis": {"user": "root"}},
    }
    model = build_compose(spec_from_document(doc, CATALOG), CATALOG, DEV, PROD)
    assert model.prod["services"]["redis"]["user"] == "root"  # not the fragment's prod `redis`
    assert model.base["services"]["redis"]["user"] == "root"


def test_prod_hardening_cannot_be_undone_by_anything_not_allowed() -> None:
    """Every service of the full stack, with harmless prod keys of its own, keeps the rules."""
    catalog = dict(CATALOG)
    for name in ALL:  # each fragment's prod: adds its own extra, harmless items to the rules' keys
        frag = catalog[name]
        prod = {**frag.prod, "cap_drop": ["ALL", "NET_RAW"], "security_opt": ["no-new-privileges"]}
        data = YAML(typ="safe").load(Path(frag.source).read_text())
        catalog[name] = fragment_from_data({**data, "prod": prod}, f"stacks/{name}.yaml")
    compose = {name: {"cap_drop": [], "security_opt": ["no-new-privileges:true"]} for name in ALL}
    spec = spec_from_document(
        {
            "name": "demo",
            "components": list(ALL),
            "services": {n: {"compose": c} for n, c in compose.items()},
        },
        catalog,
    )
    assert spec.allowed == ()
    for name, service in build_compose(spec, catalog, DEV, PROD).prod["services"].items():
        assert service["cap_drop"][0] == "ALL", name
        assert service["security_opt"][0] == "no-new-privileges:true", name
        assert service.get("user") not in ("root", 0, "0"), name


def test_allow_and_services_must_name_components_of_the_stack() -> None:
    for section, value in (("allow", {"privileged": True}), ("services", {"compose": {}})):
        with pytest.raises(InputError) as caught:
            spec_from_document(
                {"name": "demo", "components": ["redis"], section: {"api": value}}, CATALOG
            )
        assert (caught.value.source, caught.value.field) == ("mlstack.yaml", f"{section}.api")
        assert "`mlstack add api`" in caught.value.fix


@pytest.mark.parametrize(
    ("compose", "field", "phrase"),
    [
        ({"privilegd": True}, "services.api.compose", "a compose service key"),
        ({"image": "busybox"}, "services.api.compose.image", "mlstack sets this key itself"),
        ({"environment": ["A=b"]}, "services.api.compose.environment", "a mapping of variables"),
    ],
    ids=["unknown-key", "mlstack-key", "environment-list"],
)
def test_services_compose_is_validated(compose: dict[str, Any], field: str, phrase: str) -> None:
    doc = {"name": "demo", "components": ["api"], "services": {"api": {"compose": compose}}}
    with pytest.raises(InputError) as caught:
        spec_from_document(doc, CATALOG)
    assert (caught.value.source, caught.value.field) == ("mlstack.yaml", field), str(caught.value)
    assert phrase in str(caught.value)


def test_services_compose_merges_over_the_fragment_and_keeps_mlstack_wiring() -> None:
    compose = {"environment": {"EXTRA": "1"}, "volumes": ["./data:/data:ro"], "mem_limit": "1g"}
    doc = {
        "name": "demo",
        "components": ["api", "redis"],
        "services": {"api": {"compose": compose}},
    }
    spec = spec_from_document(doc, CATALOG)
    assert spec.allowed == ()
    api = build_compose(spec, CATALOG, DEV, PROD).base["services"]["api"]
    assert api["environment"]["EXTRA"] == "1" and "REDIS_URL" in api["environment"]
    assert api["volumes"] == ["./data:/data:ro"] and api["mem_limit"] == "1g"
    assert api["networks"] == ["backend"]


def test_an_allowed_host_network_leaves_the_stack_network_out() -> None:
    doc = {
        "name": "demo",
        "components": ["redis"],
        "services": {"redis": {"compose": {"network_mode": "host"}}},
        "allow": {"redis": {"network_mode": "host"}},
    }
    redis = build_compose(spec_from_document(doc, CATALOG), CATALOG, DEV, PROD).base["services"]
    assert redis["redis"]["network_mode"] == "host" and "networks" not in redis["redis"]


def test_an_allow_entry_nothing_asks_for_is_reported_unused() -> None:
    doc = {
        "name": "demo",
        "components": ["redis"],
        "allow": {"redis": {"ipc": "host", "cap_add": ["NET_ADMIN", "SYS_PTRACE"]}},
        "services": {"redis": {"compose": {"cap_add": ["SYS_PTRACE"]}}},
    }
    spec = spec_from_document(doc, CATALOG)
    assert [p.value for p in spec.allowed] == ["SYS_PTRACE"]
    assert spec.unused_allow == ("allow.redis.ipc: host", "allow.redis.cap_add: NET_ADMIN")


def test_a_wrong_value_is_not_allowed_by_an_entry_for_another() -> None:
    frag = evil(service={"pid": "host", "cap_add": ["SYS_ADMIN"]})
    error = refusal(frag, allow={"evil": {"pid": "container:x", "cap_add": ["SYS_PTRACE"]}})
    assert error.field == "service.pid"
    error = refusal(frag, allow={"evil": {"pid": "host", "cap_add": ["SYS_PTRACE"]}})
    assert error.field == "service.cap_add[0]"


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2**40),
    st.floats(allow_nan=False),
    st.sampled_from(["host", "root", "0", "/", "..", "./x", "~", "$X", "a:b", "container:x", ""]),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(
    sorted({*CHECKS, *HOST_PATHS, "user", "read_only", "cap_drop", "environment", "x-a"})
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    compose=st.dictionaries(KEYS, VALUES, max_size=4),
    service=st.dictionaries(KEYS, VALUES, max_size=3),
    prod=st.dictionaries(KEYS, VALUES, max_size=3),
    allow=st.dictionaries(
        st.sampled_from(["evil", "redis"]), st.dictionaries(KEYS, VALUES, max_size=2), max_size=2
    ),
)
def test_any_keys_end_in_a_verdict_never_an_internal_error(
    compose: dict[str, Any], service: dict[str, Any], prod: dict[str, Any], allow: dict[str, Any]
) -> None:
    """Whatever the keys hold: accepted and rendered, or refused with exit 2 and a field."""
    # The fragment schema does not type the keys mlstack merges yet (issue 8, schema
    # tightening): a fragment's `environment: null` fails in the compose model, not here.
    assume(isinstance(service.get("environment", {}), dict))
    assume(isinstance(service.get("volumes", []), list))
    assume(isinstance(service.get("deploy", {}), dict))
    try:
        frag = evil(service=service, prod=prod)
    except InputError:
        return  # the fragment schema refused it
    catalog = {**CATALOG, "evil": frag}
    doc = {"name": "demo", "components": ["evil", "redis"], "allow": allow}
    doc["services"] = {"evil": {"compose": compose}}
    try:
        spec = spec_from_document(doc, catalog)
    except InputError as error:
        assert error.exit_code == 2 and error.source and error.fix
        return
    build_compose(spec, catalog, DEV, PROD)


CASES = st.sampled_from(HOSTILE + ROOT)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LAYERS), CASES), min_size=1, max_size=4))
def test_allowed_exceptions_leave_the_rest_of_the_prod_hardening_in_place(
    chosen: list[tuple[str, tuple[str, dict[str, Any], str, dict[str, Any]]]],
) -> None:
    """Mixed exceptions, all allowed: each shows in the files; no rule goes that was not allowed."""
    layers: dict[str, Any] = {}
    allow: dict[str, Any] = {}
    scalars = [next(iter(case[3].items())) for _, case in chosen]
    scalars = [(k, v) for k, v in scalars if not isinstance(v, list)]
    assume(len({k for k, _ in scalars}) == len(scalars))  # one value per setting and service
    for layer, (_, body, _, allowed) in chosen:
        for key, value in in_layer(layer, body).items():
            layers[key] = _merge(layers.get(key, {}), value)
        for setting, value in allowed.items():
            allow[setting] = _merge(allow.get(setting), value)
    frag = evil(**layers)
    spec = spec_of(frag, allow={"evil": allow})
    prod = build_compose(spec, {**CATALOG, "evil": frag}, DEV, PROD).prod["services"]
    assert prod["redis"]["cap_drop"] == ["ALL"]
    assert prod["redis"]["security_opt"] == ["no-new-privileges:true"]
    assert ("ALL" in prod["evil"]["cap_drop"]) is ("cap_drop" not in allow)
    nnp_dropped = any(
        p.in_prod and p.setting == "security_opt" and option_name(p.value)[0] == "no-new-privileges"
        for p in spec.allowed
    )
    assert ("no-new-privileges:true" in prod["evil"]["security_opt"]) is not nnp_dropped


def _merge(old: Any, new: Any) -> Any:
    """Two layers' (or allow entries') values for one key: mappings and lists combined."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: _merge(old.get(k), v) for k, v in new.items()}}
    if isinstance(old, list) and isinstance(new, list):
        return old + [v for v in new if v not in old]
    return new

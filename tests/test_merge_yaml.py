"""The YAML merge by key path, on real renders of mlstack and on small documents.

The issue's examples run on files that ``mlstack init`` really renders (a stack, then the same
stack with another shm size, with postgres added, with redis removed); the merged files of the
"add postgres" scenario go before ``docker compose config``.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlstack.render.merge import Conflict, merge_file
from mlstack.spec.yamlio import to_plain

pytestmark = pytest.mark.usefixtures("cpu_only_host")

STACKS = {
    "base": ("api,jupyter,redis", "2g"),
    "shm": ("api,jupyter,redis", "8g"),
    "add": ("api,jupyter,redis,postgres", "2g"),
    "remove": ("api,jupyter", "2g"),
}
LABELS = "    # our dashboards group containers by team\n    labels:\n      team: ml  # owner\n"


@pytest.fixture(scope="module")
def renders(
    tmp_path_factory: pytest.TempPathFactory, make_stack: Callable[..., Path]
) -> dict[str, Path]:
    """The stacks mlstack renders for each spec of ``STACKS``."""
    root = tmp_path_factory.mktemp("renders")
    return {
        name: make_stack(root / name, "--name", "demo", "--with", parts, "--shm-size", shm)
        for name, (parts, shm) in STACKS.items()
    }


def plain(text: str) -> object:
    return to_plain(YAML(typ="rt").load(text))


def with_labels(compose: str) -> str:
    """compose.yaml with a hand-added, commented ``labels:`` at the end of services.api."""
    head, sep, rest = compose.partition("\n  jupyter:\n")
    assert sep, "the api service comes before jupyter in compose.yaml"
    return head + "\n" + LABELS.rstrip("\n") + sep + rest


def merge_again(path: str, theirs: str, merged: str) -> str:
    """The next render of the same spec: base is now what was rendered."""
    again = merge_file(path, theirs, merged, theirs)
    assert again.conflicts == ()
    return again.text


@pytest.mark.parametrize("change", ["shm", "add", "remove"])
def test_hand_added_labels_survive_a_render_comment_and_all(
    renders: dict[str, Path], change: str
) -> None:
    base = (renders["base"] / "compose.yaml").read_text()
    theirs = (renders[change] / "compose.yaml").read_text()
    ours = with_labels(base)
    result = merge_file("compose.yaml", base, ours, theirs)
    assert result.conflicts == ()
    assert LABELS in result.text
    expected = plain(theirs)
    expected["services"]["api"]["labels"] = {"team": "ml"}
    assert plain(result.text) == expected
    assert merge_again("compose.yaml", theirs, result.text) == result.text


def test_init_force_with_the_same_answers_keeps_every_edit(renders: dict[str, Path]) -> None:
    base = (renders["base"] / "compose.yaml").read_text()
    ours = with_labels(base).replace("shm_size: 2g", "shm_size: 4g  # big batches")
    assert merge_file("compose.yaml", base, ours, base).text == ours


@pytest.mark.judge
def test_add_postgres_keeps_numpy_and_labels_and_compose_accepts_the_result(
    renders: dict[str, Path], tmp_path: Path, require: Callable[[str], None]
) -> None:
    """The issue's scenario, every file: numpy appended and labels added by hand, then `add`."""
    before, after = renders["base"], renders["add"]
    edits = {
        "api/requirements.txt": lambda t: t + "numpy==2.3.0\n",
        "compose.yaml": with_labels,
    }
    merged: dict[str, str] = {}
    for path in sorted(p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file()):
        theirs = (after / path).read_text()
        if not (before / path).is_file():
            merged[path] = theirs
            continue
        base = (before / path).read_text()
        ours = edits.get(path, lambda t: t)(base)
        result = merge_file(path, base, ours, theirs)
        assert result.conflicts == (), path
        merged[path] = result.text
    requirements = merged["api/requirements.txt"].splitlines()
    assert "numpy==2.3.0" in requirements
    assert any(line.startswith("psycopg[binary]==") for line in requirements)
    assert LABELS in merged["compose.yaml"]
    assert "postgres" in plain(merged["compose.yaml"])["services"]
    require("docker compose")
    for path, text in merged.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    for files in ([], ["-f", "compose.yaml", "-f", "compose.prod.yaml"]):
        done = subprocess.run(
            ["docker", "compose", *files, "config", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_a_conflicting_image_is_one_conflict_by_key_path_and_keeps_the_users_value(
    renders: dict[str, Path],
) -> None:
    base = (renders["base"] / "compose.yaml").read_text()
    ours = base.replace("image: redis:8.10-alpine", "image: redis:8.8-alpine  # ops pin")
    theirs = base.replace("image: redis:8.10-alpine", "image: redis:8.12-alpine")
    result = merge_file("compose.yaml", base, ours, theirs)
    assert result.conflicts == (
        Conflict("compose.yaml", "services.redis.image", "redis:8.8-alpine", "redis:8.12-alpine"),
    )
    assert result.text == ours


@pytest.mark.parametrize(("side", "image"), [("ours", "8.8"), ("theirs", "8.12")])
def test_resolve_picks_a_side_for_a_key_path(side: str, image: str) -> None:
    base = "services:\n  redis:\n    image: redis:8.10\n"
    ours = "services:\n  redis:\n    image: redis:8.8  # ops pin\n"
    theirs = base.replace("8.10", "8.12")
    result = merge_file("compose.yaml", base, ours, theirs, {"services.redis.image": side})
    assert result.conflicts == ()
    assert plain(result.text) == {"services": {"redis": {"image": f"redis:{image}"}}}
    assert "# ops pin" in result.text


def test_resolve_theirs_on_a_mapping_takes_the_whole_subtree() -> None:
    base = "services:\n  api:\n    a: 1\n    b: 1\n"
    ours = "services:\n  api:\n    a: 2\n    b: 1\n    mine: 1\n"
    theirs = "services:\n  api:\n    a: 3\n    b: 3\n"
    result = merge_file("compose.yaml", base, ours, theirs, {"services.api": "theirs"})
    assert result.conflicts == ()
    assert plain(result.text) == plain(theirs)


HEADER = "# compose.yaml: generated by mlstack.\n# Edit mlstack.yaml, then render.\n"


def test_header_follows_the_render_unless_the_user_edited_it() -> None:
    body = "name: demo\n"
    new_header = HEADER.replace("render.", "run `mlstack render`.")
    result = merge_file("compose.yaml", HEADER + body, HEADER + body, new_header + body)
    assert result.text == new_header + body
    mine = "# owned by the platform team\n" + body  # the user replaced the header: it stays
    assert merge_file("compose.yaml", HEADER + body, mine, new_header + body).text == mine
    gone = merge_file("compose.yaml", HEADER + body, body, new_header + "name: new\n")
    assert gone.text == "name: new\n"


BASE = """\
services:
  api:
    image: api:1
    shm_size: 1g
    ports:
      - 127.0.0.1:8000:8000
    cap_drop:
      - ALL
    command:
      - uvicorn
      - app:app
  redis:
    image: redis:8
"""


SHM_LINE = ("    shm_size: 1g\n", "")  # an edit that removes services.api.shm_size
SHM = ("services.api.shm_size",)


@pytest.mark.parametrize(
    ("ours_edit", "theirs_edit", "expected", "conflicts"),
    [
        # the user removed a key the render left alone: it stays removed
        pytest.param(SHM_LINE, ("redis:8", "redis:9"), None, (), id="user-removed"),
        # the user removed a key the render changed: conflict, still removed
        pytest.param(SHM_LINE, ("1g", "2g"), None, SHM, id="user-removed-theirs-changed"),
        # the render removed a key the user left alone: removed
        pytest.param(("redis:8", "redis:7"), SHM_LINE, None, (), id="theirs-removed"),
        # the render removed a key the user changed: conflict, the user's value kept
        pytest.param(("1g", "4g"), SHM_LINE, None, SHM, id="theirs-removed-user-changed"),
        # the render removed a key the user commented: conflict, comment kept
        pytest.param(("1g", "1g  # measured"), SHM_LINE, None, SHM, id="theirs-removed-commented"),
        # an ordered list changed on both sides: one conflict at the list
        pytest.param(
            ("- app:app", "- app:app\n      - --reload"),
            ("- uvicorn", "- gunicorn"),
            None,
            ("services.api.command",),
            id="ordered-list",
        ),
        # a set-like list: items added on both sides, both kept, theirs beside its neighbour
        pytest.param(
            ("- ALL", "- ALL\n      - NET_RAW"),
            ("- ALL", "- ALL\n      - SYS_ADMIN"),
            ["ALL", "SYS_ADMIN", "NET_RAW"],
            (),
            id="set-list",
        ),
        # the same port mapping replaced differently: conflict
        pytest.param(
            ("127.0.0.1:8000", "127.0.0.1:9000"),
            ("127.0.0.1:8000", "0.0.0.0:8000"),
            None,
            ("services.api.ports",),
            id="set-list-replaced-both",
        ),
    ],
)
def test_key_semantics(ours_edit, theirs_edit, expected, conflicts) -> None:
    ours = BASE.replace(*ours_edit)
    theirs = BASE.replace(*theirs_edit)
    result = merge_file("compose.yaml", BASE, ours, theirs)
    assert tuple(c.where for c in result.conflicts) == conflicts
    if expected is not None:
        assert plain(result.text)["services"]["api"]["cap_drop"] == expected
    for line in ours.splitlines():
        if line not in BASE.splitlines() and line.strip():
            assert line in result.text, line  # every line the user wrote is still there
    if not conflicts:
        assert merge_again("compose.yaml", theirs, result.text) == result.text


def test_a_key_the_render_adds_goes_beside_its_neighbours_with_its_comments() -> None:
    ours = BASE.replace("    shm_size: 1g\n", "    shm_size: 1g\n    # mine\n    init: true\n")
    theirs = BASE.replace(
        "    shm_size: 1g\n", "    shm_size: 1g\n    # why: large tensors\n    ipc: host\n"
    )
    text = merge_file("compose.yaml", BASE, ours, theirs).text
    assert "    shm_size: 1g\n    # why: large tensors\n    ipc: host\n    # mine\n" in text


def test_unchanged_result_is_the_users_bytes_and_changes_keep_the_users_layout() -> None:
    base = "services:\n  api:\n    image: a\n    environment:\n      X: '1'\n"
    ours = (
        '# my own header\n\nservices:\n    api:\n        image: "a"   # quoted\n'
        "        environment: {X: '1'}\n        ports:\n        -   8000:8000\n"
    )
    assert merge_file("compose.yaml", base, ours, base).text == ours
    theirs = base.replace("image: a", "image: b")
    result = merge_file("compose.yaml", base, ours, theirs)
    # the user's layout, the user's quotes (ruamel keeps a replaced string's style)
    assert result.text == ours.replace('"a"', '"b"')


def test_a_key_with_dots_is_quoted_in_its_path() -> None:
    base = "labels:\n  com.example.team: a\n"
    result = merge_file("x.yml", base, base.replace(": a", ": b"), base.replace(": a", ": c"))
    assert [c.where for c in result.conflicts] == ['labels."com.example.team"']


def test_a_broken_user_file_falls_back_to_lines_and_says_so() -> None:
    base = "services:\n  api:\n    image: a\n    init: true\n"
    ours = base + "  redis: [unclosed\n"
    theirs = base.replace("image: a", "image: b")
    result = merge_file("compose.yaml", base, ours, theirs)
    assert result.conflicts[0].where == "not valid YAML"
    assert "yours: line" in result.conflicts[0].ours
    assert result.text == theirs + "  redis: [unclosed\n"


def test_anchors_and_merge_keys_are_kept_and_a_render_change_overrides_them() -> None:
    base = "services:\n  api:\n    image: a\n    restart: always\n  redis:\n    image: r\n"
    ours = (
        "x-common: &common\n  restart: always\n  init: true\n"
        "services:\n  api:\n    <<: *common\n    image: a\n  redis:\n    image: r\n"
    )
    theirs = base.replace("restart: always", "restart: unless-stopped")
    result = merge_file("compose.yaml", base, ours, theirs)
    assert result.conflicts == ()
    assert result.text == ours.replace(
        "    image: a\n", "    image: a\n    restart: unless-stopped\n"
    )
    assert plain(result.text)["services"]["api"]["init"] is True


@pytest.mark.parametrize(
    ("ours", "problem"),
    [
        ("# header\na: 1\na: 2\nb: 1\n", 'yours: line 3: found duplicate key "a"'),
        ("# header\na: 2024-13-45\nb: 1\n", "yours: month must be in 1..12"),
    ],
)
def test_a_value_ruamel_cannot_read_is_not_valid_yaml(ours: str, problem: str) -> None:
    base = "# header\na: 1\nb: 1\n"
    result = merge_file("compose.yaml", base, ours, base.replace("b: 1", "b: 2"))
    assert result.conflicts[0].where == "not valid YAML"
    assert result.conflicts[0].ours.startswith(problem)


def test_a_document_that_is_not_a_mapping_merges_by_line() -> None:
    result = merge_file("list.yaml", "- a\n- b\n", "- a\n- b\n- c\n", "- z\n- a\n- b\n")
    assert result.conflicts == ()
    assert result.text == "- z\n- a\n- b\n- c\n"


def test_theirs_must_parse() -> None:
    with pytest.raises(ValueError, match="render is not valid YAML"):
        merge_file("compose.yaml", "a: 1\n", "a: 1\n", "a: [\n")


def test_dump_settings_match_the_project(renders: dict[str, Path]) -> None:
    """A real render dumps back to its own bytes once every comment has been re-attached."""
    from mlstack.render.merge_yaml import round_trip_yaml, split_header
    from mlstack.render.yaml_comments import attach_comments

    for path in sorted(renders["add"].glob("*.yaml")):
        _, body = split_header(path.read_text())
        doc = round_trip_yaml().load(body)
        tail = attach_comments(doc)
        out = io.StringIO()
        round_trip_yaml().dump(doc, out)
        assert out.getvalue() + tail == body, path.name

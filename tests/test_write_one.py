"""Machine-local files that up writes (compose.local.yaml, mlstack.local.yaml): never via a link."""

from __future__ import annotations

import os

import pytest

from mlstack.errors import InputError, WriteError
from mlstack.render.disk import write_one
from mlstack.run.local_compose import write_local_compose


def test_writes_the_whole_file_with_its_mode(tmp_path):
    write_one(tmp_path, "compose.local.yaml", "services: {}\n")
    target = tmp_path / "compose.local.yaml"
    assert target.read_text() == "services: {}\n"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["compose.local.yaml"]  # no temp file left


def test_a_link_in_place_of_the_file_is_refused_and_its_target_untouched(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.local.yaml").symlink_to(outside)
    with pytest.raises(InputError):
        write_local_compose(project, {"services": {"api": {"image": "x"}}})
    with pytest.raises(InputError):
        write_local_compose(project, {})  # removing it is refused too
    assert outside.read_text() == "precious\n"


def test_a_planted_temp_link_fails_the_write_and_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / f".mlstack.local.yaml.{os.getpid()}.tmp").symlink_to(outside)
    with pytest.raises(WriteError):
        write_one(project, "mlstack.local.yaml", "name: x\n")
    assert outside.read_text() == "precious\n"
    assert not (project / "mlstack.local.yaml").exists()

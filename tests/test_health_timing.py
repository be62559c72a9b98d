"""Compose durations and the health-check timing of a service others wait for."""

from __future__ import annotations

import pytest

from mlstack.render.health_timing import as_gate, duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5s", 1.5)],
)
def test_compose_durations(text, seconds):
    assert duration_seconds(text, -1) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "ten s", "10s junk", None, "${INTERVAL}"])
def test_unreadable_durations_fall_back_to_the_default(text):
    assert duration_seconds(text, 30) == 30


def test_a_gate_is_checked_every_two_seconds_and_fails_as_late():
    check = {"test": ["CMD", "true"], "interval": "10s", "retries": 6, "start_period": "30s"}
    assert as_gate(check) == {**check, "interval": "2s", "retries": 30}


def test_a_gate_already_checked_often_is_left_alone():
    check = {"test": ["CMD", "true"], "interval": "1s", "retries": 5}
    assert as_gate(check) is check


def test_a_gate_without_timing_gets_dockers_defaults_scaled():
    assert as_gate({"test": ["CMD", "true"]}) == {
        "test": ["CMD", "true"],
        "interval": "2s",
        "retries": 45,
    }

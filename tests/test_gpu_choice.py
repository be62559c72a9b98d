"""One shape for a GPU choice: every spelling parses to it; it writes mlstack.yaml and compose."""

from __future__ import annotations

import pytest

from mlstack.spec.gpu_choice import ALL_GPUS, NO_GPU, GpuChoice, per_service


@pytest.mark.parametrize(
    ("given", "choice", "yaml", "request_"),
    [
        ("none", NO_GPU, "none", None),
        (" ALL ", ALL_GPUS, "all", {"count": "all"}),
        ("2", GpuChoice("count", count=2), 2, {"count": 2}),
        (2, GpuChoice("count", count=2), 2, {"count": 2}),
        ("0,1", GpuChoice("ids", ids=("0", "1")), ["0", "1"], {"device_ids": ["0", "1"]}),
        ("3,", GpuChoice("ids", ids=("3",)), ["3"], {"device_ids": ["3"]}),
        ([0, 1], GpuChoice("ids", ids=("0", "1")), ["0", "1"], {"device_ids": ["0", "1"]}),
        (["GPU-1a2b"], GpuChoice("ids", ids=("GPU-1a2b",)), ["GPU-1a2b"], None),
    ],
)
def test_every_spelling_parses_to_one_record(given, choice, yaml, request_):
    parsed = GpuChoice.parse(given)
    assert parsed == choice
    assert parsed.to_yaml() == yaml
    assert GpuChoice.parse(parsed.to_yaml()) == parsed  # what init writes, render reads back
    if request_ is not None:
        assert parsed.compose_request() == {"driver": "nvidia", **request_, "capabilities": ["gpu"]}


@pytest.mark.parametrize("given", ["0", "-1", "abc", "", ",", "0,a b", 0, True, []])
def test_what_is_not_a_choice_says_what_is_expected(given):
    with pytest.raises(ValueError, match="expected none, all, a count or device ids"):
        GpuChoice.parse(given)


def test_per_service_merge():
    capable = ["api", "jupyter", "trainer"]
    two = GpuChoice("count", count=2)
    assert per_service(ALL_GPUS, capable, None) == dict.fromkeys(capable, ALL_GPUS)
    assert per_service(ALL_GPUS, capable, ["trainer"]) == {"trainer": ALL_GPUS}
    assert per_service(NO_GPU, capable, ["trainer"]) == {}
    assert per_service(ALL_GPUS, capable, {"trainer": 2, "api": "none"}) == {
        "jupyter": ALL_GPUS,
        "trainer": two,
    }

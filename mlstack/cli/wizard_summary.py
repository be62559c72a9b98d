"""What ``init`` is about to write, in words: the wizard's summary and ``--yes``'s own choices."""

from __future__ import annotations

from mlstack.machine.host import GpuScan
from mlstack.spec.answers import Answers, spec_document
from mlstack.spec.index_url import CREDENTIALS_VAR


def summary_lines(answers: Answers) -> list[str]:
    """One line per choice, as mlstack.yaml will hold it (a pip index credential never shown)."""
    doc = spec_document(answers)  # the credential is already a ${PIP_INDEX_CREDENTIALS} here
    lines = [
        f"name: {doc['name']}",
        f"components: {', '.join(doc['components'])}",
        f"gpu: {_gpu_words(doc['gpu'])}",
    ]
    if answers.gpu.wanted:
        lines.append(f"cuda: {doc['cuda']}")
    lines.append(f"python: {doc['python']}")
    if "shm_size" in doc:
        lines.append(f"shm_size: {doc['shm_size']}")
    for key in ("ports", "images", "build"):
        for sub, value in doc.get(key, {}).items():
            lines.append(f"{key}.{sub}: {value}")
    if f"${{{CREDENTIALS_VAR}}}" in str(doc.get("build", {})):
        lines.append(f"the index credential goes to .env ({CREDENTIALS_VAR}), never shown")
    return lines


def _gpu_words(section: dict) -> str:
    services = section.get("services")
    text = str(section["devices"])
    if isinstance(services, dict):
        return text + "; " + ", ".join(f"{k}: {v}" for k, v in services.items())
    return text + (f" (for {', '.join(services)})" if services else "")


def decided_lines(answers: Answers, given: set[str], scan: GpuScan) -> list[str]:
    """What ``init --yes`` chose on its own, from this machine, so a script's log explains it."""
    found = (
        f"GPU found ({len(scan.gpus)}, driver {scan.driver})"
        if scan.gpus
        else f"no NVIDIA GPU ({scan.reason})"
    )
    lines = []
    if "gpu" not in given:
        lines.append(
            f"{found}: gpu: {answers.gpu.to_yaml()}" + ("" if scan.gpus else ", CPU images")
        )
    if "components" not in given:
        extra = ", trainer added" if "trainer" in answers.components and scan.gpus else ""
        lines.append(f"components: {', '.join(answers.components)}{extra}")
    if answers.gpu.wanted and "cuda" not in given:
        lines.append(f"cuda: {answers.cuda} (the newest the driver runs natively)")
    if "python" not in given:
        lines.append(f"python: {answers.python}")
    return lines

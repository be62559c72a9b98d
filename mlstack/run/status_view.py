"""``mlstack status``: what runs, whether it is healthy, and how to get in.

Beyond the health records: each published service's URL with the credential it needs (as
``${VAR}``, or the value with ``show_secrets``), where those values live (``.env``), and the two
cases that are no table at all: a stack that is not running, and one with only jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlstack.layout import ENV_FILE, Profile
from mlstack.render.published import long_running
from mlstack.run.access import access_urls, extra_addresses
from mlstack.run.environment import REAL, Environment
from mlstack.run.gpu_host import GpuDecision
from mlstack.run.operate import current_reports, host_decision, status_json
from mlstack.run.records import ServiceReport
from mlstack.run.stack import open_stack
from mlstack.spec.stack_spec import StackSpec


@dataclass(frozen=True)
class StatusView:
    """The records of ``status`` and what the CLI says about them."""

    spec: StackSpec
    profile: Profile
    reports: tuple[ServiceReport, ...]
    access: dict[str, str]  # service -> URL with its credential
    secrets: tuple[str, ...]  # the .env variables those URLs need
    jobs: tuple[str, ...]
    gpu: GpuDecision | None = None  # where the GPU services run on this host, and why
    ports: dict[str, str] = field(default_factory=dict)  # "api:9001" -> host address (extra)

    @property
    def running(self) -> bool:
        """Whether any service of the stack has a container (a stopped stack has none)."""
        return any(r.container for r in self.reports)

    @property
    def note(self) -> str:
        """What to do when there is no table to show; "" when there is one."""
        if not self.reports:
            jobs = ", ".join(self.jobs) or "none"
            return f"no long-running service in this stack (jobs: {jobs}; `mlstack run JOB`)"
        if not self.running:
            return "not running: run `mlstack up`"
        return ""

    @property
    def ok(self) -> bool:
        """Every service running and healthy; a stack of jobs only has nothing to be wrong."""
        return not self.reports or (self.running and all(r.ok for r in self.reports))


def status_view(
    root: Path, profile: Profile, show_secrets: bool = False, env: Environment = REAL
) -> StatusView:
    """The state of every service now (on the Swarm when deployed there), with access URLs."""
    stack = open_stack(root, profile, env)
    reports = current_reports(stack, env)
    masked = access_urls(stack, show_secrets=False)
    access = access_urls(stack, show_secrets=True) if show_secrets else masked
    secrets = tuple(v for c, url in masked.items() for v in stack.catalog[c].secrets if v in url)
    jobs = tuple(
        c for c in stack.spec.components if c not in long_running(stack.spec, stack.catalog)
    )
    gpu = host_decision(stack, env)
    ports = extra_addresses(stack)
    return StatusView(stack.spec, stack.profile, tuple(reports), access, secrets, jobs, gpu, ports)


def view_json(view: StatusView) -> dict[str, Any]:
    """``status --json``: the stable fields, then the added ones (README: status --json)."""
    doc = status_json(view.spec, view.profile, list(view.reports), view.gpu)
    doc["healthy"] = bool(view.reports) and doc["healthy"] and view.running
    for item in doc["services"]:
        item["access_url"] = view.access.get(item["service"])
    doc.update(running=view.running, note=view.note or None, secrets_file=ENV_FILE)
    doc["secrets"] = list(view.secrets)
    doc["extra_ports"] = dict(view.ports)
    return doc

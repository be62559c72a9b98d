"""Known causes of a failed service, recognised from its logs and exit code, with the fix."""

from __future__ import annotations

HINTS = [
    (
        "Bus error",
        "/dev/shm is too small for this workload (PyTorch DataLoader workers): raise "
        "shm_size in mlstack.yaml (e.g. shm_size: 8gb), then `mlstack render`",
    ),
    (
        "insufficient shared memory",
        "raise shm_size in mlstack.yaml (e.g. 8gb), then `mlstack render`",
    ),
    (
        "CUDA driver version is insufficient",
        "the host's NVIDIA driver is older than the image's "
        "CUDA: run `mlstack doctor`, then lower `cuda` in mlstack.yaml or update the driver",
    ),
    (
        "could not select device driver",
        "Docker has no NVIDIA runtime: install the NVIDIA Container "
        "Toolkit (`nvidia-ctk runtime configure --runtime=docker`), or set gpu: none",
    ),
    (
        "Invalid Host header",
        "MLflow rejects this Host name: add it to MLFLOW_SERVER_ALLOWED_HOSTS "
        "in stacks/mlflow.yaml (or your fragment), then `mlstack render`",
    ),
    (
        "Permission denied",
        "a volume or bind mount is owned by another user than the container's: "
        "check ownership (`docker compose exec SERVICE id`), or recreate the volume",
    ),
    (
        "password authentication failed",
        "the database volume keeps the password it was created with; .env's POSTGRES_PASSWORD "
        "differs now: restore the old .env, or `mlstack down --volumes --yes` to start empty",
    ),
    ("address already in use", "a port is taken: set the service's *_HOST_PORT in .env"),
    ("port is already allocated", "a port is taken: set the service's *_HOST_PORT in .env"),
    ("out of memory", "raise the memory limit (deploy.resources.limits.memory) or Docker's memory"),
]


def hints_for(logs: str, exit_code: int | None, oom_killed: bool) -> list[str]:
    """Every known cause that matches, most specific first."""
    found = []
    if oom_killed or exit_code == 137:
        found.append(
            "killed with exit code 137 (SIGKILL), usually the out-of-memory killer: "
            "raise the memory limit or free memory on the host"
        )
    found += [fix for needle, fix in HINTS if needle.lower() in logs.lower()]
    return list(dict.fromkeys(found))

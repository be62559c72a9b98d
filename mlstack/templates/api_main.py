"""The stack's API. /health: the process answers; /live: same, for orchestrators; /ready: every
service this API uses answers (configured through the environment compose passes in).

The API starts once its dependencies have started, not once they are healthy: until they answer,
/ready says 503 and names them under ``not_ready``."""

import logging
import os
import urllib.request

from fastapi import FastAPI
from fastapi.responses import JSONResponse

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())
app = FastAPI(title="api")


def check_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_timeout=2).ping()


def check_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def check_http(url: str) -> None:
    with urllib.request.urlopen(url, timeout=2) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")


CHECKS = {
    "redis": ("REDIS_URL", check_redis, ""),
    "postgres": ("DATABASE_URL", check_postgres, ""),
    "qdrant": ("QDRANT_URL", check_http, "/readyz"),
    "mlflow": ("MLFLOW_TRACKING_URI", check_http, "/health"),
}


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/live")
def live() -> dict:
    return {"status": "ok"}


@app.get("/ready")
def ready() -> JSONResponse:
    results = {}
    for name, (variable, check, suffix) in CHECKS.items():
        url = os.environ.get(variable)
        if not url:
            continue
        try:
            check(url + suffix)
            results[name] = "ok"
        except Exception as exc:  # report every failing dependency, not only the first
            results[name] = f"error: {exc}"
    not_ready = [name for name, value in results.items() if value != "ok"]
    return JSONResponse(
        {
            "status": "not ready" if not_ready else "ready",
            "not_ready": not_ready,
            "checks": results,
        },
        status_code=503 if not_ready else 200,
    )

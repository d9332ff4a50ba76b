"""2.8 Containers: the service that deploy/Dockerfile packages. A FastAPI
app with the two endpoints Kubernetes probes: `/healthz` (liveness: the
process answers) and `/readyz` (readiness: send me traffic), plus a slow
endpoint to have a request in flight during a shutdown.

In the image uvicorn serves it (exec-form CMD, so uvicorn is PID 1 and
gets SIGTERM). `python3 container_service.py` calls each endpoint in
process with FastAPI's TestClient and prints what it answers.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Query, Response

MAX_SLOW_MS = 10_000


# ANCHOR: probes
class Health:
    ready = False  # true between start-up and the start of shutdown
    in_flight = 0  # /slow requests being served


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Warm-up goes here (connection pools, caches); the startup probe
    # gives it time, readiness stays 503 until it is done.
    Health.ready = True
    yield
    Health.ready = False  # uvicorn got SIGTERM and is draining


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: no database call here, or a database outage restarts
    every pod at once and fixes nothing."""
    return {"status": "alive"}


@app.get("/readyz")
async def readyz(response: Response) -> dict[str, str | int]:
    if not Health.ready:
        response.status_code = 503
        return {"status": "not ready", "in_flight": Health.in_flight}
    return {"status": "ready", "in_flight": Health.in_flight}


# ANCHOR_END: probes


@app.get("/slow")
async def slow(ms: int = Query(ge=0)) -> dict[str, int]:
    if ms > MAX_SLOW_MS:
        detail = f"ms must be at most {MAX_SLOW_MS}, got {ms}"
        raise HTTPException(status_code=400, detail=detail)
    Health.in_flight += 1
    try:
        await asyncio.sleep(ms / 1000)
    finally:
        Health.in_flight -= 1
    return {"slept_ms": ms}


def main() -> None:
    from fastapi.testclient import TestClient  # only here: not in the image

    with TestClient(app) as client:
        paths = ["/healthz", "/readyz", "/slow?ms=10", "/slow?ms=10001"]
        for path in [*paths, "/slow?ms=-1"]:
            r = client.get(path)
            body = r.text if r.status_code != 422 else "(validation error)"
            print(f"GET {path:<15} {r.status_code} {body}")
    print(f"after shutdown: ready={Health.ready}")


if __name__ == "__main__":
    main()

"""A server run as a separate process for the length of a `with` block, on a free loopback port: what the load test
(`scripts/benchmark_serve.py`) and the tests of the server, the demo and the Space start."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server started by a test or the load test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    log_path: Path,
    env: dict[str, str],
    timeout_seconds: float = 120,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Runs a server command (in `cwd`, if given) for the length of a `with` block, once `GET ready_url` answers 200,
    then stops it.

    Its output goes to `log_path` (a pipe nobody reads would fill up and stall a busy server). If it exits or stays
    silent before answering, the error carries the end of that log, which says why.
    """
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout_seconds
        while not _answers(ready_url):
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with code {process.returncode}" if process.poll() is not None else "did not answer"
                raise RuntimeError(f"The server {state} ({ready_url}):\n{Path(log_path).read_text()[-4000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False  # not listening yet

"""The load-test command, run briefly end to end: it starts its own loopback server, loads it and stops by itself."""

import json
import os
import subprocess
import sys

import pytest

from inference.server_process import free_loopback_port

from ..conftest import PROJECT_ROOT

BENCHMARK_SCRIPT = PROJECT_ROOT / "scripts" / "benchmark_serve.py"


def test_a_short_load_test_reports_its_figures_with_no_errors(trained_lstm_folder, imdb_dataset):
    # A duration far beyond the test's timeout: only the request budget can end the run.
    command = [
        sys.executable, str(BENCHMARK_SCRIPT), "--model", f"lstm={trained_lstm_folder}",
        "--dataset_name", imdb_dataset, "--num_reviews", "200",
        "--clients", "8", "--reviews_per_request", "2", "--duration", "3600", "--max_requests", "150",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    assert report["errors"] == 0 and report["first_errors"] == []
    assert report["requests"] == 150  # the request budget ended the run
    assert report["reviews_per_second"] == pytest.approx(2 * report["requests_per_second"], abs=0.2)
    assert report["requests_per_second"] > 0
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"]


def test_the_duration_ends_a_load_test_and_failed_requests_count_as_errors(imdb_dataset):
    """Against a loopback port nothing listens on, every request fails at once; a request budget far beyond reach
    leaves only --duration to end the run, and the subprocess timeout guards against it not doing so."""
    url, budget = f"http://127.0.0.1:{free_loopback_port()}", 10**9
    command = [sys.executable, str(BENCHMARK_SCRIPT), "--url", url, "--dataset_name", imdb_dataset,
               "--num_reviews", "10", "--clients", "2", "--duration", "2", "--max_requests", str(budget)]  # fmt: skip
    env = {**os.environ, "SENTIMENT_API_KEYS": "a-key"}
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=300)
    report = json.loads(completed.stdout)
    assert report["requests"] < budget and report["errors"] == report["requests"]
    assert completed.returncode == (1 if report["errors"] else 0), completed.stderr[-4000:]
    assert all(error.startswith("ConnectError") for error in report["first_errors"]), report["first_errors"]


def test_the_load_test_refuses_targets_off_this_machine():
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK_SCRIPT), "--url", "http://192.0.2.10:8000", "--dataset_name", "unused"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2 and "--url must point at this machine's loopback" in completed.stderr

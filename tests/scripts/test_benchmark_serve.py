"""The load-test command, run briefly end to end: it starts its own loopback server, loads it and stops by itself."""

import json
import subprocess
import sys

import pytest

from ..conftest import PROJECT_ROOT

BENCHMARK_SCRIPT = PROJECT_ROOT / "scripts" / "benchmark_serve.py"


def test_a_short_load_test_reports_its_figures_with_no_errors(trained_lstm_folder, imdb_dataset):
    command = [
        sys.executable, str(BENCHMARK_SCRIPT), "--model", f"lstm={trained_lstm_folder}",
        "--dataset_name", imdb_dataset, "--num_reviews", "200",
        "--clients", "8", "--reviews_per_request", "2", "--duration", "3", "--max_requests", "150",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-4000:]
    report = json.loads(completed.stdout)
    assert report["errors"] == 0 and report["first_errors"] == []
    assert 0 < report["requests"] <= 150  # the request budget bounds the run
    assert report["seconds"] < 10
    assert report["reviews_per_second"] == pytest.approx(2 * report["requests_per_second"], abs=0.2)
    assert report["requests_per_second"] > 0
    assert 0 < report["latency_p50_ms"] <= report["latency_p99_ms"]


def test_the_load_test_refuses_targets_off_this_machine():
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK_SCRIPT), "--url", "http://192.0.2.10:8000", "--dataset_name", "unused"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2 and "--url must point at this machine's loopback" in completed.stderr

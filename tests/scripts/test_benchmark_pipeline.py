import json
import subprocess
import sys

import pytest

from ..conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "benchmark_pipeline.py"


def test_every_door_labels_with_the_trainers_test_accuracy(lstm_onnx_folder, imdb_dataset):
    # The fixture evaluated 300 test reviews drawn with seed 42; the benchmark draws the same 300.
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), str(lstm_onnx_folder), "--dataset_name", imdb_dataset,
         "--max_samples", "300", "--seed", "42", "--batch_size", "32", "--backends", "torch", "torch-bf16", "onnx", "onnx-int8"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "| pipeline, batch size 32 |" in completed.stdout
    assert "| model alone, onnx, sorted batches of 128 |" in completed.stdout
    report = json.loads(completed.stdout[completed.stdout.index("{") :])
    results = json.loads((lstm_onnx_folder / "all_results.json").read_text())
    assert report["reviews"] == results["test_samples"] == 300
    doors = [row["door"].rsplit(",", 1)[0] for row in report["rows"]]
    assert doors == ["pipeline", "pipeline", "pipeline, bfloat16"] + [
        f"{door}, {backend}"
        for backend in ("torch", "torch-bf16", "onnx", "onnx-int8")
        for door in ("project predictor", "model alone")
    ]
    for door, row in zip(doors, report["rows"]):
        # int8 and bfloat16 round the weights, which may flip a few labels; every other door gives the run's own
        # labels, and the probabilities of the first row (float32 pipeline) up to float32 summation order.
        rounded = door.endswith(("bfloat16", "torch-bf16", "onnx-int8"))
        assert row["accuracy"] == pytest.approx(results["test_accuracy"], abs=0.02 if rounded else 1e-9), row["door"]
        assert row["largest_probability_change"] < (0.05 if rounded else 1e-4), row["door"]
        assert row["mean_probability_change"] <= row["largest_probability_change"]
        assert row["reviews_per_second"] > 0
    assert report["rows"][0]["largest_probability_change"] == 0.0
    # Rounding does change the scores: a change of 0 would mean the rounded weights were never used.
    bfloat16_doors = ("bfloat16", "torch-bf16")
    assert all(
        row["largest_probability_change"] > 0
        for door, row in zip(doors, report["rows"])
        if door.endswith(bfloat16_doors)
    )
    assert report["rows"][4]["share_of_sorted_rate"] == 1.0

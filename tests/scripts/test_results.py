"""scripts/results.py: the README's tables from finished run folders, each figure the mean ± std of what the runs
recorded."""

import json
import statistics
import subprocess
import sys

import pytest

from ..conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "results.py"


def run_results(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


def results_of(folder) -> dict:
    return json.loads((folder / "all_results.json").read_text())


def test_a_row_is_the_mean_and_std_of_its_runs(trained_lstm_folder, verbalizer_mlp_folder, tmp_path):
    output = tmp_path / "figures.json"
    completed = run_results(
        "accuracy", "--runs", "two runs", trained_lstm_folder, verbalizer_mlp_folder,
        "--runs", "LSTM", trained_lstm_folder, "--output_file", output,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    lstm, verbalizer = results_of(trained_lstm_folder), results_of(verbalizer_mlp_folder)
    accuracies = [lstm["test_accuracy"], verbalizer["test_accuracy"]]
    mean, std = 100 * statistics.fmean(accuracies), 100 * statistics.stdev(accuracies)
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("| runs | n | test accuracy | validation accuracy | training (min) |")
    assert lines[2].startswith(f"| two runs | 2 | {mean:.2f} ± {std:.2f} |")
    minutes = lstm["train_runtime_seconds"] / 60
    assert lines[3].startswith(
        f"| LSTM | 1 | {100 * lstm['test_accuracy']:.2f} | {100 * lstm['eval_accuracy']:.2f} | {minutes:,.1f} | 0.0 |"
    )
    figures = json.loads(output.read_text())
    assert figures["two runs"]["test_accuracy"]["values"] == accuracies
    assert figures["two runs"]["folders"] == [str(trained_lstm_folder), str(verbalizer_mlp_folder)]


def test_the_calibration_table_holds_validation_and_test_figures(trained_lstm_folder):
    completed = run_results("calibration", "--runs", "LSTM", trained_lstm_folder)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = results_of(trained_lstm_folder)
    keys = ["calibration_temperature", "eval_ece_before_calibration", "eval_ece_after_calibration",
            "test_ece_before_calibration", "test_ece_after_calibration", "test_nll_before_calibration",
            "test_nll_after_calibration"]  # fmt: skip
    assert completed.stdout.splitlines()[2] == "| LSTM | 1 | " + " | ".join(f"{results[k]:.4f}" for k in keys) + " |"


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["accuracy", "--runs", "no folder"], 2, "names no folder"),
        (["accuracy", "--runs", "a", "{folder}", "--runs", "a", "{folder}"], 2, "Two rows share a label"),
        (["accuracy", "--runs", "missing", "{missing}"], 1, "is not a finished run folder"),
        (["speed", "--runs", "a", "{folder}"], 2, "invalid choice: 'speed'"),
    ],
)
def test_bad_requests_say_what_is_wrong(arguments, code, message, trained_lstm_folder, tmp_path):
    filled = [item.format(folder=trained_lstm_folder, missing=tmp_path / "none") for item in arguments]
    completed = run_results(*filled)
    assert completed.returncode == code and message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_tables_are_made_without_importing_torch(trained_lstm_folder):
    """Reading run folders needs neither torch nor transformers: the script answers in a fraction of a second."""
    program = (
        "import runpy, sys\n"
        f"sys.argv = ['results.py', 'accuracy', '--runs', 'LSTM', {str(trained_lstm_folder)!r}]\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
        "print(sorted(name for name in ('torch', 'transformers') if name in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=PROJECT_ROOT,
                               timeout=120)  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| LSTM | 1 |" in completed.stdout and completed.stdout.splitlines()[-1] == "[]"

import json
import subprocess
import sys

from evaluation.baselines import train_baseline
from evaluation.comparison import COLUMNS, markdown_table
from evaluation.report import load_minimal_pairs, score_hard_cases
from trainers.data import DEFAULT_VALIDATION_FRACTION, load_sentiment_splits

from ..conftest import IMDB_CLASSES, PROJECT_ROOT

COMPARE_SCRIPT = PROJECT_ROOT / "scripts" / "compare.py"


def compare(*args):
    completed = subprocess.run(
        [sys.executable, str(COMPARE_SCRIPT), *map(str, args)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=1200,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def test_quick_comparison_of_every_approach_on_real_reviews(
    imdb_dataset, random_modernbert_folder, trained_lstm_folder, tmp_path
):
    """Every approach trained by its own script on the same 300 real reviews, twice (seeds 42 and 43), with the
    TF-IDF baseline and a folder trained elsewhere; then the same command again reuses every run."""
    output_dir = tmp_path / "comparison"
    command = [
        "--quick", "--dataset_name", imdb_dataset, "--max_train_samples", 300, "--max_test_samples", 120,
        "--seeds", 2, "--speed_samples", 40, "--output_dir", output_dir,
        "--lstm_variants", PROJECT_ROOT / "configs" / "reference" / "bilstm_attention.yaml",
        "--base_model", f"verbalizer={random_modernbert_folder}", f"finetune={random_modernbert_folder}",
        "--model", f"elsewhere={trained_lstm_folder}",
    ]  # fmt: skip
    first = compare(*command)
    report = json.loads((output_dir / "comparison.json").read_text())
    names = ["lstm", "bilstm_attention", "verbalizer", "finetune", "tfidf", "elsewhere"]
    assert list(report["summary"]) == names and report["seeds"] == [42, 43]
    for name in names[:5]:
        runs = report["runs"][name]
        assert [run["seed"] for run in runs] == [42, 43]
        for run in runs:
            assert run["train_samples"] == 270 and run["test_samples"] == 120
            assert 0 <= run["accuracy"] <= 1 and run["reviews_per_second"] > 0 and run["num_parameters"] > 0
        summary = report["summary"][name]
        assert summary["runs"] == 2 and summary["accuracy"]["std"] is not None
    for name in names[:4]:  # the script's own test accuracy and the comparison's, from its saved predictions, agree
        for run in report["runs"][name]:
            results = json.loads((PROJECT_ROOT / run["folder"] / "all_results.json").read_text())
            assert run["predictions"] == "saved predictions"
            assert abs(run["accuracy"] - results["test_accuracy"]) < 1e-9 and run["size_mb"] > 0
    # The attention pooling variant is a different model from the default LSTM.
    lstm, attention = report["runs"]["lstm"][0], report["runs"]["bilstm_attention"][0]
    assert lstm["num_parameters"] != attention["num_parameters"]
    assert (
        report["runs"]["verbalizer"][0]["num_trainable_parameters"] < report["runs"]["verbalizer"][0]["num_parameters"]
    )
    assert report["runs"]["tfidf"][0]["accuracy"] > 0.6  # 270 real reviews are enough for TF-IDF to beat chance
    elsewhere = report["runs"]["elsewhere"]
    assert len(elsewhere) == 1 and elsewhere[0]["predictions"] == "model run over the test split"

    table = (output_dir / "comparison.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| approach")]
    assert [row.split(" | ")[0].strip("|* ") for row in rows] == names
    assert " ± " in rows[0] and "| tfidf | 270 | 120 | 2 |" in table
    assert table in first.stdout.replace("\r", "")

    again = compare(*command)
    assert again.stderr.count("reusing") == 8
    reused = json.loads((output_dir / "comparison.json").read_text())
    assert {name: reused["summary"][name]["accuracy"] for name in names} == {
        name: report["summary"][name]["accuracy"] for name in names
    }


def test_quick_comparison_of_the_baselines_alone(imdb_dataset, tmp_path):
    """The TF-IDF and NBSVM baselines, and no training script, on the same 300 real reviews twice (seeds 42, 43)."""
    output_dir = tmp_path / "comparison"
    completed = compare(
        "--quick", "--dataset_name", imdb_dataset, "--approaches", "tfidf", "nbsvm", "--max_train_samples", 300,
        "--max_test_samples", 120, "--seeds", 2, "--speed_samples", 40, "--output_dir", output_dir,
    )  # fmt: skip
    report = json.loads((output_dir / "comparison.json").read_text())
    assert list(report["summary"]) == ["tfidf", "nbsvm"] and not (output_dir / "runs").exists()
    runs = report["runs"]["nbsvm"]
    assert [run["seed"] for run in runs] == [42, 43]
    for run in runs:
        assert run["train_samples"] == 270 and run["test_samples"] == 120 and run["predictions"] == "in process"
        by_c = run["validation_accuracy_by_c"]
        assert list(by_c) == ["0.01", "0.03", "0.1", "0.3", "1.0"] and by_c[str(run["chosen_c"])] == max(by_c.values())
        # One log-count ratio per n-gram besides its weight: counted in the total, not learned.
        assert run["num_parameters"] == 2 * run["num_trainable_parameters"] - 1
        assert run["accuracy"] > 0.6 and run["reviews_per_second"] > 0  # 270 real reviews; chance is 0.5
    table = (output_dir / "comparison.md").read_text()
    assert "| nbsvm | 270 | 120 | 2 | " in table and table.count(" ± ") >= 2 * 6
    assert table in completed.stdout.replace("\r", "")


def test_bad_comparison_arguments_are_refused(imdb_dataset, tmp_path):
    def refused(*args):
        return subprocess.run([sys.executable, str(COMPARE_SCRIPT), *map(str, args)], capture_output=True,
                              text=True, cwd=PROJECT_ROOT, timeout=120)  # fmt: skip

    neither = refused("--dataset_name", imdb_dataset)
    assert neither.returncode == 2 and "--quick" in neither.stderr
    no_recipe = refused("--quick", "--lstm_variants", tmp_path / "none.yaml", "--output_dir", tmp_path)
    assert no_recipe.returncode == 1 and "none.yaml, does not exist" in no_recipe.stderr
    no_folder = refused("--quick", "--model", f"x={tmp_path / 'missing'}", "--output_dir", tmp_path)
    assert no_folder.returncode == 1 and "no such folder" in no_folder.stderr
    baseline_recipe = refused("--quick", "--recipe", f"nbsvm={tmp_path / 'none.yaml'}", "--output_dir", tmp_path)
    assert baseline_recipe.returncode == 1 and "--recipe nbsvm: not one of" in baseline_recipe.stderr
    zero = refused("--quick", "--seeds", "0")
    assert zero.returncode == 2 and "--seeds must be at least 1" in zero.stderr


def table_cell(table: str, name: str, header: str) -> str:
    """The cell of a Markdown table in the row of `name` and the column headed `header`."""
    lines = table.splitlines()
    headers = [cell.strip() for cell in next(line for line in lines if line.startswith("| approach")).split("|")]
    row = next(line for line in lines if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in row.split("|")][headers.index(header)]


def test_pair_consistency_is_a_column_for_a_folder_and_for_the_baseline(imdb_dataset, trained_lstm_folder, tmp_path):
    output_dir = tmp_path / "comparison"
    compare("--quick", "--dataset_name", imdb_dataset, "--approaches", "tfidf", "--max_train_samples", 300,
            "--max_test_samples", 60, "--speed_samples", 20, "--model", f"elsewhere={trained_lstm_folder}",
            "--output_dir", output_dir)  # fmt: skip
    report = json.loads((output_dir / "comparison.json").read_text())
    table = (output_dir / "comparison.md").read_text()
    # The folder's: what its training run measured on the same pairs.
    folder = report["runs"]["elsewhere"][0]["pair_consistency"]
    assert folder == json.loads((trained_lstm_folder / "all_results.json").read_text())["minimal_pairs"]["consistency"]
    # The baseline's: the same TF-IDF, trained again on the same split, on the same pairs.
    splits = load_sentiment_splits(imdb_dataset, validation_fraction=DEFAULT_VALIDATION_FRACTION, seed=42,
                                   max_train_samples=300, max_test_samples=60)  # fmt: skip
    train, validation = splits["train"], splits["validation"]
    pipeline, _ = train_baseline("tfidf", train["text"], train["label"], validation["text"], validation["label"])
    expected = score_hard_cases(pipeline.predict_proba, IMDB_CLASSES, pairs=load_minimal_pairs())["minimal_pairs"]
    baseline = report["runs"]["tfidf"][0]["pair_consistency"]
    assert baseline == expected["consistency"]
    for name, value in (("elsewhere", folder), ("tfidf", baseline)):
        assert report["summary"][name]["pair_consistency"] == {"mean": value, "std": None}
        assert table_cell(table, name, "pair consistency") == f"{100 * value:.2f}"


def test_a_comparison_written_before_the_pairs_column_shows_it_empty():
    old_summary = {"runs": 1, "train_samples": 270, "test_samples": 120, "cached_features": False}
    old_summary |= {key: {"mean": 0.5, "std": None} for key, _, _ in COLUMNS if key != "pair_consistency"}
    table = markdown_table({"lstm": old_summary})
    assert table_cell(table, "lstm", "pair consistency") == "—" and table_cell(table, "lstm", "accuracy") == "50.00"

"""`scripts/predict.py` run as a user runs it: a subprocess per input kind, its output read back and checked."""

import csv
import json
import os
import subprocess
import sys

import pytest

from ..conftest import IMDB_CLASSES, PROJECT_ROOT, one_line_reviews, pipeline_scores

PREDICT_SCRIPT = PROJECT_ROOT / "scripts" / "predict.py"


def run_predict(*arguments, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, str(PREDICT_SCRIPT), *map(str, arguments)]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)


def best_labels(classifier, texts: list[str]) -> list[str]:
    return [max(scores, key=scores.get) for scores in pipeline_scores(classifier, texts)]


@pytest.fixture(scope="module")
def reviews(imdb_splits) -> list[str]:
    return one_line_reviews(list(imdb_splits["test"]["text"][:40]))


def test_reviews_as_arguments_with_top_k(trained_lstm_folder, lstm_pipeline, reviews):
    completed = run_predict("--model", trained_lstm_folder, "--top_k", "2", *reviews[:3])
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    for record, scores in zip(records, pipeline_scores(lstm_pipeline, reviews[:3]), strict=True):
        assert record["label"] == max(scores, key=scores.get) and record["score"] == pytest.approx(
            max(scores.values())
        )
        assert {entry["label"]: entry["score"] for entry in record["scores"]} == pytest.approx(scores, abs=1e-5)


def test_large_text_file_to_csv_with_a_progress_bar(trained_lstm_folder, lstm_pipeline, imdb_splits, tmp_path):
    texts = one_line_reviews(list(imdb_splits["train"]["text"][:300]))  # over the 256 that earn a progress bar
    (tmp_path / "reviews.txt").write_text("\n".join(texts) + "\n")
    output = tmp_path / "out.csv"
    completed = run_predict("--model", trained_lstm_folder, "--input", tmp_path / "reviews.txt", "--output", output)
    assert completed.returncode == 0, completed.stderr
    assert "300/300" in completed.stderr and "review" in completed.stderr
    with open(output, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["label", "score"]
    assert [row["label"] for row in rows] == best_labels(lstm_pipeline, texts)


def test_csv_and_jsonl_inputs_with_a_chosen_column(trained_lstm_folder, lstm_pipeline, reviews, tmp_path):
    with open(tmp_path / "reviews.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "review"])
        writer.writerows(enumerate(reviews))  # reviews hold commas and quotes: csv must quote them
    rows = [json.dumps({"id": number, "body": text}) for number, text in enumerate(reviews)]
    (tmp_path / "reviews.jsonl").write_text("\n".join(rows) + "\n")
    expected = best_labels(lstm_pipeline, reviews)
    for input_file, column in (("reviews.csv", "review"), ("reviews.jsonl", "body")):
        completed = run_predict("--model", trained_lstm_folder, "--input", tmp_path / input_file, "--column", column)
        assert completed.returncode == 0, completed.stderr
        assert [json.loads(line)["label"] for line in completed.stdout.splitlines()] == expected, input_file


def test_standard_input(trained_lstm_folder, lstm_pipeline, reviews):
    completed = run_predict("--model", trained_lstm_folder, "--output_format", "csv", stdin="\n".join(reviews[:10]))
    assert completed.returncode == 0, completed.stderr
    labels = [row["label"] for row in csv.DictReader(completed.stdout.splitlines())]
    assert labels == best_labels(lstm_pipeline, reviews[:10])


def test_missing_file_missing_column_and_empty_input_are_clear_errors(trained_lstm_folder, tmp_path):
    (tmp_path / "reviews.csv").write_text("id,review\n1,A fine film.\n")
    (tmp_path / "empty.txt").write_text("")
    refusals = [
        (
            ("--input", tmp_path / "absent.txt"),
            f"error: Cannot read --input '{tmp_path / 'absent.txt'}': No such file",
        ),
        (("--input", tmp_path / "reviews.csv"), "has no column 'text' (its columns: ['id', 'review'])"),
        (("--input", tmp_path / "empty.txt"), f"error: No reviews in {tmp_path / 'empty.txt'}."),
    ]
    for arguments, message in refusals:
        completed = run_predict("--model", trained_lstm_folder, *arguments)
        assert completed.returncode != 0 and message in completed.stderr, completed.stderr
        assert completed.stdout == ""


def test_text_that_is_not_unicode_is_refused_naming_its_line_or_row(trained_lstm_folder, reviews, tmp_path):
    # A JSON escape of half a surrogate pair decodes to a string no tokenizer can take; a blank line comes first, so
    # the refusal must count file lines, not reviews.
    lines = [
        json.dumps({"text": reviews[0]}),
        "",
        '{"text": "A fine \\ud800 film."}',
        json.dumps({"text": reviews[1]}),
    ]
    (tmp_path / "reviews.jsonl").write_text("\n".join(lines) + "\n")
    # Bytes that are not UTF-8 (a Latin-1 "café") reach Python as surrogates in arguments (and in standard input, with
    # some locales: the same check refuses them); standard input that decodes strictly fails to decode instead.
    latin1_review = "Un film magnifique, quel caf\xe9.".encode("latin-1")
    stdin = f"{reviews[0]}\n".encode() + latin1_review + b"\n"
    cases = [  # (arguments, standard input, PYTHONIOENCODING, the error it must print)
        (
            ["--input", tmp_path / "reviews.jsonl"], None, None,
            f"error: Line 3 of {tmp_path / 'reviews.jsonl'} holds an unpaired surrogate (\\ud800 at character 8), "
            "which is not text: send valid Unicode (UTF-8).",
        ),
        (
            [reviews[0], os.fsdecode(latin1_review)], None, None,
            "error: Review 2 of the arguments holds an unpaired surrogate (\\udce9 at character 29)",
        ),
        ([], stdin, "utf-8:strict", "error: Standard input is not UTF-8 text: invalid continuation byte at byte"),
    ]  # fmt: skip
    running = []
    for arguments, standard_input, encoding, _ in cases:  # started together: each spends seconds importing torch
        env = {**os.environ, "PYTHONIOENCODING": encoding} if encoding else None
        command = [sys.executable, str(PREDICT_SCRIPT), "--model", str(trained_lstm_folder), *map(str, arguments)]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        running.append((subprocess.Popen(command, env=env, **pipes), standard_input))
    for (process, standard_input), (*_, message) in zip(running, cases):
        output, errors = process.communicate(standard_input or b"", timeout=300)
        assert process.returncode == 1 and message in errors.decode(errors="replace"), errors
        assert not output and b"Traceback" not in errors


def test_help_of_every_serving_command():
    expected_options = {
        "predict.py": ("--model", "--input", "--input_format", "--column", "--output", "--output_format", "--top_k"),
        "serve.py": ("--model", "--api_keys_file", "--max_text_characters", "--max_batch_size", "--max_body_bytes"),
        "demo.py": ("--model", "--host", "--port", "SENTIMENT_MODELS"),
        "benchmark_serve.py": ("--model", "--url", "--clients", "--duration", "--max_requests"),
    }
    commands = {name: [sys.executable, str(PROJECT_ROOT / "scripts" / name), "--help"] for name in expected_options}
    running = {
        name: subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for name, command in commands.items()
    }
    for name, process in running.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, name
        for option in expected_options[name]:
            assert option in output, f"{name} --help does not mention {option}"


def test_chunked_prediction_of_a_5000_word_review_from_the_command_line(trained_lstm_folder, imdb_splits):
    long_review = " ".join(" ".join(imdb_splits["test"]["text"]).split()[:5000])
    completed = run_predict("--model", trained_lstm_folder, "--chunk_overlap", "32", "--top_k", "2", long_review)
    assert completed.returncode == 0, completed.stderr
    (record,) = [json.loads(line) for line in completed.stdout.splitlines()]
    assert record["label"] in IMDB_CLASSES
    assert sum(entry["score"] for entry in record["scores"]) == pytest.approx(1.0, abs=1e-5)
    refused = run_predict("--model", trained_lstm_folder, "--chunk_overlap", "999", long_review)
    assert refused.returncode == 1 and "chunk_overlap must be at least 0" in refused.stderr

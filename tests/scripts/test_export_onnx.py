"""`scripts/export_onnx.py` and the ONNX Runtime backend: for the LSTM, the verbalizer and a fine-tuned encoder,
ONNX Runtime labels real reviews as PyTorch does, in a process that never imports torch."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.predictor import load_predictor

from ..conftest import EXPORT_ONNX_SCRIPT, HELPERS, PROJECT_ROOT, exported_to_onnx, run_without_project

PREDICT_SCRIPT = PROJECT_ROOT / "scripts" / "predict.py"
PUSH_SCRIPT = PROJECT_ROOT / "scripts" / "push_to_hub.py"
CHUNK_OVERLAP = 16
# ONNX Runtime and PyTorch sum in different orders: probabilities agree to this, not to the last bit.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def verbalizer_onnx_folder(verbalizer_mlp_folder, tmp_path_factory) -> Path:
    return exported_to_onnx(verbalizer_mlp_folder, tmp_path_factory.mktemp("verbalizer-onnx") / "model")


@pytest.fixture(scope="module")
def minilm_onnx_folder(finetuned_minilm_folder, tmp_path_factory) -> Path:
    """The fine-tuned MiniLM (BERT's architecture, so its graph takes token_type_ids too)."""
    return exported_to_onnx(finetuned_minilm_folder, tmp_path_factory.mktemp("minilm-onnx") / "model")


def probability_rows(records: list[dict], labels: list[str]) -> np.ndarray:
    """predict.py's records (all labels' scores) as probabilities in the model's label order."""
    return np.array(
        [[{e["label"]: e["score"] for e in record["scores"]}[label] for label in labels] for record in records]
    )


@pytest.mark.parametrize("folder_fixture", ["lstm_onnx_folder", "verbalizer_onnx_folder", "minilm_onnx_folder"])
def test_onnx_runtime_gives_pytorchs_probabilities_without_torch(folder_fixture, request, imdb_splits, tmp_path):
    folder = request.getfixturevalue(folder_fixture)
    texts = list(imdb_splits["test"]["text"][:16])
    texts.append(" ".join(" ".join(imdb_splits["test"]["text"]).split()[:3000]))
    torch_predictor = load_predictor("torch", str(folder))
    assert len(torch_predictor.tokenizer(texts[-1])["input_ids"]) > torch_predictor.max_length, "a review is cut"
    expected = {
        "cut": torch_predictor.predict_probabilities(texts),
        "chunked": torch_predictor.predict_probabilities(texts, chunk_overlap=CHUNK_OVERLAP),
    }
    reviews = tmp_path / "reviews.jsonl"
    reviews.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    labels = torch_predictor.labels
    command = [
        sys.executable, str(HELPERS / "onnx_predictions.py"), str(folder), str(reviews), str(len(labels)),
        str(CHUNK_OVERLAP),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    records = json.loads(completed.stdout.splitlines()[-1])
    for way in ("cut", "chunked"):
        probabilities = probability_rows(records[way], labels)
        np.testing.assert_allclose(probabilities, expected[way], rtol=0, atol=TOLERANCE, err_msg=way)
        assert [record["label"] for record in records[way]] == [labels[row.argmax()] for row in expected[way]]


def test_the_int8_export_runs_and_mostly_agrees(lstm_onnx_folder, imdb_splits):
    texts = list(imdb_splits["test"]["text"][:100])
    float_labels = load_predictor("onnx", str(lstm_onnx_folder), backend="onnx").predict_probabilities(texts)
    int8_predictor = load_predictor("int8", str(lstm_onnx_folder), backend="onnx-int8")
    int8_labels = int8_predictor.predict_probabilities(texts)
    assert int8_predictor.describe()["backend"] == "onnx-int8"
    agreement = (float_labels.argmax(-1) == int8_labels.argmax(-1)).mean()
    assert agreement >= 0.9, f"int8 gives the float model's label on {agreement:.0%} of 100 reviews"


def test_a_folder_without_an_export_is_a_one_line_error(trained_lstm_folder, tmp_path):
    command = [sys.executable, str(PREDICT_SCRIPT), "--model", str(trained_lstm_folder), "--backend", "onnx", "Fine."]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        f"error: No ONNX model at '{trained_lstm_folder / 'onnx' / 'model.onnx'}': export it first with "
        f"`python scripts/export_onnx.py --model {trained_lstm_folder}`."
    )
    completed = subprocess.run(
        [sys.executable, str(EXPORT_ONNX_SCRIPT), "--model", str(tmp_path / "missing")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 1
    assert (
        completed.stderr.strip().splitlines()[-1]
        == f"error: No model at '{tmp_path / 'missing'}': no such file or folder."
    )


def test_the_hub_upload_and_the_card_carry_the_export(lstm_onnx_folder, tmp_path):
    command = [sys.executable, str(PUSH_SCRIPT), str(lstm_onnx_folder), "--repo_id", "someone/imdb-lstm", "--dry_run"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert completed.returncode == 0, completed.stderr[-4000:]
    uploaded = {line.strip() for line in completed.stdout.splitlines()}
    assert {"onnx/model.onnx", "onnx/model_int8.onnx"} <= uploaded

    # The card's ONNX Runtime example, run on the folder in a fresh process without this project.
    card = (lstm_onnx_folder / "README.md").read_text()
    example = card[card.index("Or with ONNX Runtime") :]
    start = example.index("```python\n") + len("```python\n")
    code = example[start : example.index("\n```", start)]
    downloaded = 'folder = snapshot_download("someone/imdb-lstm", revision="main")'
    assert downloaded in code
    script = tmp_path / "card_example.py"
    script.write_text(code.replace(downloaded, f"folder = {str(lstm_onnx_folder)!r}"))
    completed = run_without_project(script, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    printed = ast.literal_eval(completed.stdout.strip().splitlines()[-1])
    predictor = load_predictor("torch", str(lstm_onnx_folder))
    expected = predictor.predict_probabilities(["A wonderful, moving film."])[0]
    assert list(printed) == predictor.labels
    assert list(printed.values()) == pytest.approx(expected.tolist(), abs=1e-4)

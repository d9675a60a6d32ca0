"""The Gradio demo started for real by `scripts/demo.py` and used through Debian's headless Chromium (Playwright; the
`page` fixture and the helpers are in this folder's conftest.py)."""

import os
import sys

import pytest

from inference.server_process import free_loopback_port, running_server

from ..conftest import PROJECT_ROOT, pipeline_scores
from .conftest import save_screenshot, shown_result

DEMO_SCRIPT = PROJECT_ROOT / "scripts" / "demo.py"
TRICKY_EXAMPLE = "I didn't hate it, but I wouldn't watch it again."


@pytest.fixture(scope="module", params=["torch", "onnx"])
def demo_url(request, tmp_path_factory):
    """The demo run by PyTorch, and by ONNX Runtime on the same LSTM's export: the page must show the same answers."""
    folder = request.getfixturevalue("trained_lstm_folder" if request.param == "torch" else "lstm_onnx_folder")
    port = free_loopback_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    command = [
        sys.executable, str(DEMO_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--backend", request.param,
        "--model", f"lstm={folder}", "--model", f"lstm-copy={folder}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    with running_server(command, url, log, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}):
        yield url


def test_a_typed_review_is_labelled_on_the_page(demo_url, page, lstm_pipeline, imdb_splits, tmp_path):
    texts = list(imdb_splits["test"]["text"])
    scores = pipeline_scores(lstm_pipeline, texts)
    # A review the model calls positive and one it calls negative, so the label on the page has to change.
    positive, positive_scores = next((t, s) for t, s in zip(texts, scores) if s["pos"] > 0.8)
    negative, negative_scores = next((t, s) for t, s in zip(texts, scores) if s["neg"] > 0.8)

    page.goto(demo_url)
    assert page.get_by_label("Model").input_value() == "lstm"
    page.get_by_label("Review").fill(positive)
    page.get_by_role("button", name="Classify").click()
    label, percentages = shown_result(page, positive_scores)
    assert label == "pos"
    assert percentages == {name: f"{round(100 * value)}%" for name, value in positive_scores.items()}
    save_screenshot(page, tmp_path / "demo-typed-review.png")

    page.get_by_label("Review").fill(negative)
    page.get_by_role("button", name="Classify").click()
    assert shown_result(page, negative_scores)[0] == "neg"

    # A tricky example from the list fills the box and is labelled as the model labels it.
    page.get_by_text(TRICKY_EXAMPLE).click()
    tricky_scores = pipeline_scores(lstm_pipeline, [TRICKY_EXAMPLE])[0]
    assert shown_result(page, tricky_scores)[0] == max(tricky_scores, key=tricky_scores.get)
    assert page.get_by_label("Review").input_value() == TRICKY_EXAMPLE

    save_screenshot(page, tmp_path / "demo-tricky-example.png")

"""The Gradio demo started for real by `scripts/demo.py` and used through Debian's headless Chromium (Playwright).

Playwright drives the system browser at /usr/bin/chromium (Debian's `chromium` package, which `make test` installs);
Playwright's own browser download cannot work here. A missing browser fails the test rather than skipping it.
"""

import os
import shutil
import sys

import pytest
from playwright.sync_api import Page, sync_playwright

from trainers.serving import free_loopback_port, running_server

from ..conftest import PROJECT_ROOT, pipeline_scores

DEMO_SCRIPT = PROJECT_ROOT / "scripts" / "demo.py"
CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a machine whose network is closed: no background or update traffic, a throwaway profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TRICKY_EXAMPLE = "I didn't hate it, but I wouldn't watch it again."


@pytest.fixture(scope="module")
def demo_url(trained_lstm_folder, tmp_path_factory):
    port = free_loopback_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    command = [
        sys.executable, str(DEMO_SCRIPT), "--host", "127.0.0.1", "--port", str(port),
        "--model", f"lstm={trained_lstm_folder}", "--model", f"lstm-copy={trained_lstm_folder}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    with running_server(command, url, log, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}):
        yield url


@pytest.fixture
def page(tmp_path):
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1200, "height": 900},
        )  # fmt: skip
        try:
            yield browser.new_page()
        finally:
            browser.close()


def shown_result(page: Page, expected: dict[str, float]) -> tuple[str, dict[str, str]]:
    """Waits until the bars show `expected` (the model's own probabilities for the review just sent), then reads the
    label the page shows in large type and the percentage beside each label's bar.

    Waiting on the bars' exact values, not on any change, means an answer left over from the review before can
    never pass for this one.
    """
    page.wait_for_function(
        """expected => Object.entries(expected).every(([label, probability]) => {
            const bar = document.querySelector(`meter[aria-label="${label}"]`);
            return bar !== null && Math.abs(bar.value - probability) < 1e-4;
        })""",
        arg=expected, timeout=60_000,
    )  # fmt: skip
    bars = page.locator("button.confidence-set")
    percentages = {bar.locator("dt").inner_text(): bar.locator("dd").inner_text() for bar in bars.all()}
    return page.get_by_test_id("label-output-value").inner_text().strip(), percentages


def save_screenshot(page: Page, path) -> None:
    """Saves the whole page as PNG and says where, for a person to look at what the test saw."""
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    print(f"Screenshot of the demo: {path}")


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

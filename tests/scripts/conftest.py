"""Browser helpers of the tests that use a Gradio page (the demo, and the demo as a Space) through Debian's headless
Chromium (Playwright).

Playwright drives the system browser at /usr/bin/chromium (Debian's `chromium` package, which `make test` installs);
Playwright's own browser download cannot work here. A missing browser fails the test rather than skipping it.
"""

import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a machine whose network is closed: no background or update traffic, a throwaway profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

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


def shown_result(page, expected: dict[str, float]) -> tuple[str, dict[str, str]]:
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


def save_screenshot(page, path) -> None:
    """Saves the whole page as PNG and says where, for a person to look at what the test saw."""
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    print(f"Screenshot of the demo: {path}")

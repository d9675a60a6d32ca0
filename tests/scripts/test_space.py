"""`scripts/make_space.py`'s Space run as a Space runs it: a fresh virtual environment holding only what its
requirements.txt installs, `python app.py` in its folder, and reviews labelled through the page in headless Chromium.

The install reuses pip's cache; the first run on a machine downloads about 200 MB of wheels (PyTorch aside, which
comes from wherever pip finds `torch==VERSION`: here a local CPU wheel, on a real Space PyTorch's CPU index).
"""

import json
import os
import subprocess
import sys
import time
from importlib.metadata import version

import pytest
import yaml

from inference.server_process import free_loopback_port, running_server

from ..conftest import PROJECT_ROOT, pipeline_scores
from .conftest import save_screenshot, shown_result

MAKE_SPACE_SCRIPT = PROJECT_ROOT / "scripts" / "make_space.py"


@pytest.fixture(scope="module")
def space(trained_lstm_folder, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("space") / "imdb-sentiment"
    # No --torch_index_url: this machine has no route to PyTorch's index, and pip finds the same release locally.
    command = [
        sys.executable, str(MAKE_SPACE_SCRIPT), "--model", f"lstm={trained_lstm_folder}",
        "--output_dir", str(output_dir), "--torch_index_url", "",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return output_dir


@pytest.fixture(scope="module")
def space_python(space, tmp_path_factory):
    """The Python of a new virtual environment with the Space's requirements.txt installed, and nothing else."""
    environment = tmp_path_factory.mktemp("space-venv") / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True, timeout=300)
    python = environment / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"]
    completed = subprocess.run(install, capture_output=True, text=True, cwd=space, timeout=1200)
    assert completed.returncode == 0, completed.stderr[-4000:]
    print(f"Space environment created and installed in {time.monotonic() - started:.0f} s")
    return python


def test_the_space_folder_is_complete(space, trained_lstm_folder):
    readme = (space / "README.md").read_text()
    metadata = yaml.safe_load(readme.split("---\n")[1])
    assert metadata["sdk"] == "gradio" and metadata["sdk_version"] == version("gradio")
    assert (space / metadata["app_file"]).is_file() and "models" not in metadata, "a folder is no Hub model"
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert f"torch=={version('torch').split('+')[0]}" in requirements
    assert (
        f"gradio=={version('gradio')}" in requirements and f"transformers=={version('transformers')}" in requirements
    )
    assert not any(line.startswith(("imdb-sentiment", "optuna", "scikit-learn")) for line in requirements)
    assert (space / "model_folders" / "lstm" / "model.safetensors").is_file()
    assert not list((space / "model_folders" / "lstm").glob("checkpoint-*")), "training checkpoints stay out"


def test_help_and_a_folder_that_is_not_empty_refused(space, trained_lstm_folder):
    command = [sys.executable, str(MAKE_SPACE_SCRIPT), "--model", f"lstm={trained_lstm_folder}", "--output_dir", space]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)
    assert completed.returncode == 1 and completed.stderr == f"error: '{space}' is not empty: give a new folder.\n"
    help_text = subprocess.run([sys.executable, MAKE_SPACE_SCRIPT, "--help"], capture_output=True, text=True).stdout
    for option in ("--model", "--output_dir", "--title", "--torch_index_url", "requirements.txt"):
        assert option in help_text


def test_the_space_labels_reviews_from_its_folder_alone(
    space, space_python, trained_lstm_folder, page, lstm_pipeline, imdb_splits, tmp_path
):
    labels = json.loads((trained_lstm_folder / "config.json").read_text())["id2label"].values()
    texts = list(imdb_splits["test"]["text"])
    # The first review the model gives each label, so that the label on the page has to change.
    examples = {}
    for text, scores in zip(texts, pipeline_scores(lstm_pipeline, texts)):
        examples.setdefault(max(scores, key=scores.get), (text, scores))
    assert set(examples) == set(labels)

    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}/"
    # As a Space starts it: its own folder, its own Python, Gradio's address from the environment; no PYTHONPATH, so
    # that nothing of the project is found outside the Space.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    app = [str(space_python), "app.py"]
    with running_server(app, url, tmp_path / "space.log", env=env, cwd=space):
        page.goto(url)
        assert page.get_by_label("Model").input_value() == "lstm"
        for label, (text, scores) in examples.items():
            page.get_by_label("Review").fill(text)
            page.get_by_role("button", name="Classify").click()
            assert shown_result(page, scores)[0] == label
        save_screenshot(page, tmp_path / "space.png")

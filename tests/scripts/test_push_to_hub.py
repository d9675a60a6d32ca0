import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
from huggingface_hub import ModelCard

from ..conftest import LSTM_RECIPE, PROJECT_ROOT, TRAIN_SCRIPT

PUSH_SCRIPT = PROJECT_ROOT / "scripts" / "push_to_hub.py"


@pytest.fixture
def model_folder(trained_lstm_folder, tmp_path):
    """A copy of the trained folder, checkpoints included, that a test may write its card into."""
    folder = tmp_path / "model"
    shutil.copytree(trained_lstm_folder, folder)
    return folder


def hub_env(tmp_path, endpoint=None, token="hf_test_token_that_no_hub_knows"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env["HF_HOME"] = str(tmp_path / "hf_home")  # no token saved by `hf auth login` here
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    if token:
        env["HF_TOKEN"] = token
    return env


def push(folder, env, *options, timeout=120):
    command = [sys.executable, str(PUSH_SCRIPT), str(folder), "--repo_id", "someone/imdb-lstm", *options]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RefusingHub(http.server.BaseHTTPRequestHandler):
    """Answers every request as the Hub answers an invalid token."""

    def do_GET(self):
        body = b'{"error": "Invalid credentials in Authorization header"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def silent_hub():
    """A loopback socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_dry_run_writes_and_checks_the_exact_folder_offline(model_folder, tmp_path):
    env = {**hub_env(tmp_path, token=None), "HF_HUB_OFFLINE": "1"}  # any network use would fail
    completed = push(model_folder, env, "--dry_run")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Dry run: nothing uploaded" in completed.stdout
    assert f"Model card written and checked: {model_folder / 'README.md'}" in completed.stderr
    listed = {line.strip() for line in completed.stdout.splitlines() if line.startswith("  ")}
    assert {"README.md", "model.safetensors", "config.json", "modeling_lstm.py", "all_results.json"} <= listed
    assert not [name for name in listed if name.startswith("checkpoint-") or name.endswith((".bin", ".pt", ".pth"))]
    assert "training_recipe.yaml" not in listed, "it holds paths of the training machine; the card shows it without"
    assert any(path.name.startswith("checkpoint-") for path in model_folder.iterdir()), "checkpoints stay local"
    card = ModelCard.load(model_folder / "README.md")
    assert card.data.model_name == "someone/imdb-lstm"
    assert 'model="someone/imdb-lstm"' in card.text


def test_unreachable_hub_fails_fast_with_a_clear_message(model_folder, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    completed = push(model_folder, hub_env(tmp_path, endpoint), timeout=60)
    assert completed.returncode == 1
    assert f"Cannot reach the Hub at {endpoint}" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_hub_that_never_answers_times_out(model_folder, tmp_path, silent_hub):
    completed = push(model_folder, hub_env(tmp_path, silent_hub), "--timeout", "2", timeout=60)
    assert completed.returncode == 1
    assert f"Cannot reach the Hub at {silent_hub} (ReadTimeout" in completed.stderr


def test_refused_token_fails_with_a_clear_message(model_folder, tmp_path, refusing_hub):
    completed = push(model_folder, hub_env(tmp_path, refusing_hub), timeout=60)
    assert completed.returncode == 1
    assert f"The Hub at {refusing_hub} refused the token (HTTP 401)" in completed.stderr


def test_missing_token_fails_with_a_clear_message(model_folder, tmp_path, refusing_hub):
    completed = push(model_folder, hub_env(tmp_path, refusing_hub, token=None), timeout=60)
    assert completed.returncode == 1
    assert "No Hugging Face token: set HF_TOKEN or run `hf auth login`" in completed.stderr


def test_train_push_to_hub_checks_access_before_training(tmp_path, imdb_dataset, refusing_hub):
    output_dir = tmp_path / "never-trained"
    command = [
        sys.executable, str(TRAIN_SCRIPT), str(LSTM_RECIPE), "--dataset_name", imdb_dataset,
        "--output_dir", str(output_dir), "--push_to_hub", "true", "--hub_model_id", "someone/imdb-lstm",
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, env=hub_env(tmp_path, refusing_hub), cwd=PROJECT_ROOT, timeout=120
    )
    assert completed.returncode != 0
    assert "refused the token (HTTP 401)" in completed.stderr and "Traceback" not in completed.stderr
    assert not (output_dir / "model.safetensors").exists()

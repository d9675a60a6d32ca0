"""The REST API, run by `scripts/serve.py` as a real uvicorn server on a free loopback port and called over HTTP."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch
from transformers import AutoConfig, AutoTokenizer, pipeline

from models import LSTMForSequenceClassification
from trainers.serving import free_loopback_port, running_server

from ..conftest import PROJECT_ROOT, pipeline_scores

SERVE_SCRIPT = PROJECT_ROOT / "scripts" / "serve.py"
ENV_KEYS, FILE_KEY = ("env-key-one", "env-key-two"), "file-key"
MAX_BODY_BYTES = 100_000


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log: Path

    def post(self, body=None, key: str | None = ENV_KEYS[0], **options) -> httpx.Response:
        headers = {"x-api-key": key} if key is not None else {}
        if body is not None:
            options["json"] = body
        headers.update(options.pop("headers", {}))
        return httpx.post(f"{self.url}/predict", headers=headers, timeout=60, **options)


@pytest.fixture(scope="module")
def untrained_lstm_folder(trained_lstm_folder, tmp_path_factory) -> Path:
    """A second, different model (same architecture and tokenizer, fresh random weights) to choose per request."""
    folder = tmp_path_factory.mktemp("untrained-lstm")
    torch.manual_seed(123)
    LSTMForSequenceClassification(AutoConfig.from_pretrained(trained_lstm_folder)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(trained_lstm_folder).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(trained_lstm_folder, untrained_lstm_folder, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("server")
    keys_file = workdir / "keys.txt"
    keys_file.write_text(f"\n{FILE_KEY}\n\n")
    port = free_loopback_port()
    command = [
        sys.executable, str(SERVE_SCRIPT),
        "--model", f"lstm={trained_lstm_folder}", "--model", f"untrained={untrained_lstm_folder}",
        "--api_keys_file", str(keys_file), "--port", str(port),
        "--max_body_bytes", str(MAX_BODY_BYTES), "--max_text_characters", "20000", "--max_batch_size", "64",
        "--batch_wait_seconds", "0.05",
    ]  # fmt: skip
    url, log = f"http://127.0.0.1:{port}", workdir / "server.log"
    env = {**os.environ, "SENTIMENT_API_KEYS": ",".join(ENV_KEYS)}
    with running_server(command, f"{url}/health", log, env) as process:
        yield RunningServer(url, process, log)


def test_real_reviews_get_the_models_own_labels_and_scores(server, lstm_pipeline, imdb_splits):
    texts, gold = list(imdb_splits["test"]["text"]), list(imdb_splits["test"]["label"])
    expected = pipeline_scores(lstm_pipeline, texts)
    predictions = []
    for start in range(0, len(texts), 50):
        response = server.post({"texts": texts[start : start + 50], "model": "lstm", "top_k": 2})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == "lstm"
        predictions += response.json()["predictions"]
    assert len(predictions) == len(texts) == 200
    for prediction, scores in zip(predictions, expected):
        assert prediction["label"] == max(scores, key=scores.get)
        assert {entry["label"]: entry["score"] for entry in prediction["scores"]} == pytest.approx(scores, abs=1e-5)
    accuracy = sum(p["label"] == ("NEGATIVE", "POSITIVE")[label] for p, label in zip(predictions, gold)) / len(gold)
    assert accuracy > 0.6, f"accuracy {accuracy:.3f} on 200 real test reviews"

    # One review at a time, with the default model: a clear positive and a clear negative the model gets right.
    confident = [
        (text, ("NEGATIVE", "POSITIVE")[label])
        for text, label, scores in zip(texts, gold, expected)
        if scores[("NEGATIVE", "POSITIVE")[label]] > 0.9
    ]
    for wanted in ("POSITIVE", "NEGATIVE"):
        text = next(text for text, label in confident if label == wanted)
        answer = server.post({"text": text}).json()
        assert answer["model"] == "lstm" and answer["prediction"]["label"] == wanted
        assert "predictions" not in answer


def test_the_model_is_chosen_per_request(server, untrained_lstm_folder, imdb_splits):
    texts = list(imdb_splits["test"]["text"][:20])
    untrained = pipeline("sentiment-analysis", model=str(untrained_lstm_folder), trust_remote_code=True)
    expected = pipeline_scores(untrained, texts)
    answer = server.post({"texts": texts, "model": "untrained"}).json()
    assert answer["model"] == "untrained"
    for prediction, scores in zip(answer["predictions"], expected):
        assert prediction["score"] == pytest.approx(scores[prediction["label"]], abs=1e-5)
    trained = server.post({"texts": texts, "model": "lstm"}).json()["predictions"]
    assert [p["score"] for p in trained] != pytest.approx([p["score"] for p in answer["predictions"]], abs=1e-3)


def test_concurrent_requests_share_forward_passes_and_get_their_own_answers(server, lstm_pipeline, imdb_splits):
    texts = list(imdb_splits["test"]["text"][:32])
    expected = pipeline_scores(lstm_pipeline, texts)

    def served(key: str) -> dict:
        return {m["name"]: m for m in httpx.get(f"{server.url}/models", headers={"x-api-key": key}).json()["models"]}

    before = served(FILE_KEY)["lstm"]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda text: server.post({"text": text, "top_k": 2}).json(), texts))
    after = served(FILE_KEY)["lstm"]
    for answer, scores in zip(answers, expected):
        assert {e["label"]: e["score"] for e in answer["prediction"]["scores"]} == pytest.approx(scores, abs=1e-5)
    assert after["requests_served"] - before["requests_served"] == 32
    passes = after["forward_passes"] - before["forward_passes"]
    assert passes <= 16, f"32 concurrent requests took {passes} forward passes: they were not batched"


def test_keys_are_required_except_for_health_and_docs(server):
    for key in (*ENV_KEYS, FILE_KEY):
        assert server.post({"text": "A fine film."}, key=key).status_code == 200
    missing, wrong = server.post({"text": "A fine film."}, key=None), server.post({"text": "A fine film."}, key="nope")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Missing API key: send it in the 'x-api-key' header."}
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid API key."})
    assert httpx.get(f"{server.url}/models").status_code == 401
    assert httpx.get(f"{server.url}/models", headers={"x-api-key": ENV_KEYS[0][:-1]}).status_code == 401
    # Without a key, even a body over the size limit is answered 401: the server reads nothing of it.
    assert server.post(content=b"x" * (MAX_BODY_BYTES + 1), key=None).status_code == 401

    assert httpx.get(f"{server.url}/health").json() == {"status": "ok", "models": ["lstm", "untrained"]}
    assert httpx.get(f"{server.url}/docs").status_code == 200
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/predict", "/models", "/health"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "x-api-key"

    models = httpx.get(f"{server.url}/models", headers={"x-api-key": FILE_KEY}).json()
    assert models["default"] == "lstm" and [m["name"] for m in models["models"]] == ["lstm", "untrained"]
    assert models["models"][0]["labels"] == ["NEGATIVE", "POSITIVE"] and models["models"][0]["max_length"] == 256


def chunked(body: bytes):
    """Sends the body in pieces with no Content-Length, so only counting the bytes can catch an oversized one."""
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


BAD_JSON_BODIES = [
    ("empty text", {"text": ""}, 422, "text is empty or only whitespace."),
    ("whitespace text", {"text": " \n\t "}, 422, "text is empty or only whitespace."),
    ("whitespace in a batch", {"texts": ["A fine film.", "   "]}, 422, "texts[1] is empty or only whitespace."),
    ("non-string text", {"text": 42}, 422, "text: Input should be a valid string"),
    ("non-string in a batch", {"texts": ["A fine film.", None]}, 422, "texts[1]: Input should be a valid string"),
    ("texts not a list", {"texts": "A fine film."}, 422, "texts: Input should be a valid list"),
    ("missing field", {"model": "lstm"}, 422, "Send exactly one of 'text' (one review) or 'texts'"),
    ("both fields", {"text": "Fine.", "texts": ["Fine."]}, 422, "Send exactly one of 'text' (one review) or 'texts'"),
    ("empty batch", {"texts": []}, 422, "'texts' is empty: send at least one review."),
    ("oversized text", {"text": "great " * 4000}, 422, "text has 24000 characters; the limit is 20000."),
    ("oversized batch", {"texts": ["Fine."] * 65}, 422, "'texts' holds 65 reviews; the limit is 64."),
    ("unknown model", {"text": "Fine.", "model": "gpt"}, 422, "Unknown model 'gpt'; loaded models: ['lstm', 'untra"),
    ("unknown field", {"text": "Fine.", "txt": "Fine."}, 422, "txt: Extra inputs are not permitted"),
    ("top_k beyond the labels", {"text": "Fine.", "top_k": 3}, 422, "top_k is 3; model 'lstm' has 2 labels."),
    ("body not an object", ["Fine."], 422, "body: Input should be a valid dictionary"),
]
BAD_RAW_BODIES = [
    ("invalid JSON", b'{"text": "A fine film.', 422, "The request body is not valid JSON"),
    ("invalid UTF-8", b'{"text": "A fine caf\xe9 film."}', 400, "not valid UTF-8 (byte 20: invalid continuation byte)"),
    ("oversized body", b'{"text": "' + b"a" * MAX_BODY_BYTES + b'"}', 413, "larger than the limit of 100000 bytes"),
    ("oversized chunked body", None, 413, "larger than the limit of 100000 bytes"),
]


@pytest.mark.parametrize("case, body, status, message", BAD_JSON_BODIES, ids=[case[0] for case in BAD_JSON_BODIES])
def test_bad_json_requests_get_a_clear_4xx_and_the_server_keeps_answering(server, case, body, status, message):
    response = server.post(body)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert server.post({"text": "Still here?"}).status_code == 200


@pytest.mark.parametrize("case, body, status, message", BAD_RAW_BODIES, ids=[case[0] for case in BAD_RAW_BODIES])
def test_bad_raw_bodies_get_a_clear_4xx_and_the_server_keeps_answering(server, case, body, status, message):
    content = body if body is not None else chunked(b'{"text": "' + b"a" * 2 * MAX_BODY_BYTES + b'"}')
    response = server.post(content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert server.post({"text": "Still here?"}).status_code == 200
    assert server.process.poll() is None
    assert "Traceback" not in server.log.read_text()


def test_serve_refuses_to_start_without_keys_or_with_a_bad_model_spec(trained_lstm_folder):
    env = {k: v for k, v in os.environ.items() if k != "SENTIMENT_API_KEYS"}
    no_keys = subprocess.run(
        [sys.executable, str(SERVE_SCRIPT), "--model", f"lstm={trained_lstm_folder}"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert no_keys.returncode != 0 and "No API key: set $SENTIMENT_API_KEYS or give --api_keys_file." in no_keys.stderr
    unnamed = subprocess.run(
        [sys.executable, str(SERVE_SCRIPT), "--model", str(trained_lstm_folder)],
        capture_output=True, text=True, env={**env, "SENTIMENT_API_KEYS": "k"}, timeout=120,
    )  # fmt: skip
    assert unnamed.returncode != 0 and "NAME=FOLDER_OR_HUB_ID" in unnamed.stderr

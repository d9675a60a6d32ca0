"""The REST API, run by `scripts/serve.py` as a real uvicorn server on a free loopback port and called over HTTP."""

import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoConfig, AutoTokenizer, pipeline

from inference.predictor import SentimentPredictor, UnencodableReviewError, load_predictor
from inference.server_process import free_loopback_port, running_server
from inference.serving import MicroBatcher, ServingLimits, create_app
from models import LSTMForSequenceClassification

from ..conftest import IMDB_CLASSES, PROJECT_ROOT, pipeline_scores

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

    def load(self) -> dict:
        """What GET /models reports of the server's load: each model's counters by name, and under "in_progress"
        the /predict requests received and not yet answered."""
        described = httpx.get(f"{self.url}/models", headers={"x-api-key": ENV_KEYS[0]}, timeout=60).json()
        return {
            **{model["name"]: model for model in described["models"]},
            "in_progress": described["predict_requests_in_progress"],
        }

    def refuses_connections(self) -> bool:
        """Whether the listening socket is closed, as it is once the server has begun to shut down."""
        try:
            address = urlsplit(self.url)
            socket.create_connection((address.hostname, address.port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        return False


def wait_for(observe: Callable[[], object], done: Callable[[object], bool], what: str, timeout_seconds: float = 120):
    """Polls `observe()` until `done` holds for what it returns, and returns that. The deadline only guards against a
    hang: passing it fails the test, saying what was awaited and what was last seen."""
    deadline = time.monotonic() + timeout_seconds
    while not done(observed := observe()):
        assert time.monotonic() < deadline, f"waited {timeout_seconds} s for {what}; last seen: {observed}"
        time.sleep(0.05)
    return observed


@contextmanager
def serving(model_folder: Path, workdir: Path, *options: str) -> Iterator[RunningServer]:
    """`serve.py` on a free loopback port with the LSTM as "lstm" and `options`, for a test of its own."""
    port = free_loopback_port()
    command = [sys.executable, str(SERVE_SCRIPT), "--model", f"lstm={model_folder}", "--port", str(port), *options]
    url, log = f"http://127.0.0.1:{port}", workdir / "server.log"
    env = {**os.environ, "SENTIMENT_API_KEYS": ENV_KEYS[0]}
    with running_server(command, f"{url}/health", log, env) as process:
        yield RunningServer(url, process, log)


@pytest.fixture(scope="module")
def untrained_lstm_folder(trained_lstm_folder, tmp_path_factory) -> Path:
    """A second, different model (same architecture and tokenizer, fresh random weights) to choose per request."""
    folder = tmp_path_factory.mktemp("untrained-lstm")
    torch.manual_seed(123)
    LSTMForSequenceClassification(AutoConfig.from_pretrained(trained_lstm_folder)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(trained_lstm_folder, trust_remote_code=True).save_pretrained(folder)
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
    accuracy = sum(p["label"] == IMDB_CLASSES[label] for p, label in zip(predictions, gold)) / len(gold)
    assert accuracy > 0.6, f"accuracy {accuracy:.3f} on 200 real test reviews"

    # One review at a time, with the default model: a clear positive and a clear negative the model gets right.
    confident = [
        (text, IMDB_CLASSES[label])
        for text, label, scores in zip(texts, gold, expected)
        if scores[IMDB_CLASSES[label]] > 0.9
    ]
    for wanted in reversed(IMDB_CLASSES):
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


def test_concurrent_requests_share_forward_passes_and_get_their_own_answers(
    trained_lstm_folder, lstm_pipeline, imdb_splits, tmp_path
):
    """A batch stays open until it is full (or for 10 minutes, a guard never reached), so the test, not the clock,
    decides when it closes: 31 one-review requests wait in it, as the server reports, and a 32nd fills it."""
    texts = list(imdb_splits["test"]["text"][:32])
    expected = pipeline_scores(lstm_pipeline, texts)
    options = ["--max_batch_size", "32", "--batch_wait_seconds", "600"]
    with serving(trained_lstm_folder, tmp_path, *options) as server, ThreadPoolExecutor(len(texts)) as pool:
        waiting = [pool.submit(server.post, {"text": text, "top_k": 2}) for text in texts[:-1]]
        lstm = wait_for(
            lambda: server.load()["lstm"],
            lambda lstm: lstm["requests_waiting"] == 31 or lstm["forward_passes"] > 0,
            "31 requests waiting in one open batch",
        )
        assert lstm["forward_passes"] == 0, f"a forward pass ran before the batch was full: {lstm}"
        assert not any(future.done() for future in waiting), "a request was answered before the batch was full"
        last = pool.submit(server.post, {"text": texts[-1], "top_k": 2})
        answers = [future.result() for future in [*waiting, last]]
        lstm = server.load()["lstm"]
    for answer, scores in zip(answers, expected, strict=True):
        assert answer.status_code == 200, answer.text
        answered = {entry["label"]: entry["score"] for entry in answer.json()["prediction"]["scores"]}
        assert answered == pytest.approx(scores, abs=1e-5)
    passes = lstm["forward_passes"]
    assert passes == 1, f"32 concurrent requests took {passes} forward passes: they were not batched"
    assert (lstm["requests_served"], lstm["requests_waiting"]) == (32, 0)


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
    assert models["models"][0]["labels"] == IMDB_CLASSES and models["models"][0]["max_length"] == 256


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
    (
        "invalid UTF-8",
        b'{"text": "A fine caf\xe9 film."}',
        400,
        "not valid UTF-8 (byte 20: invalid continuation byte)",
    ),
    # Valid JSON and UTF-8, but the escape of half a surrogate pair decodes to a string no tokenizer can take.
    (
        "unpaired surrogate",
        b'{"texts": ["A fine film.", "A fine \\ud800 film."]}',
        422,
        "texts[1] holds an unpaired surrogate (\\ud800 at character 8), which is not text",
    ),
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


@pytest.fixture(scope="module")
def lstm_predictor(trained_lstm_folder) -> SentimentPredictor:
    """The trained LSTM loaded as the server loads it, labelling offline: what every answer must agree with."""
    return load_predictor("lstm", str(trained_lstm_folder))


@dataclass
class RecordingPredictor(SentimentPredictor):
    """The real predictor, keeping the reviews of every forward pass asked of it."""

    passes: list[list[str]] = field(default_factory=list)

    def predict_probabilities(self, texts, *args, **options) -> np.ndarray:
        self.passes.append(list(texts))
        return super().predict_probabilities(texts, *args, **options)


def test_a_review_that_breaks_a_shared_forward_pass_fails_only_its_own_request(lstm_predictor, imdb_splits):
    predictor = RecordingPredictor(lstm_predictor.name, lstm_predictor.classifier, lstm_predictor.tokenizer)
    reviews = list(imdb_splits["test"]["text"][:6])
    # Called directly, the batcher gets no validation: the lone surrogate reaches the real tokenizer, which raises.
    requests = [reviews[:2], reviews[2:3], [reviews[3], "A fine \ud800 film."], reviews[4:]]

    async def label_concurrently() -> list:
        # The batch closes when it is full, at 7 reviews: all four requests, whenever each arrives (a minute of
        # waiting is the guard).
        batcher = MicroBatcher(predictor, max_batch_size=sum(map(len, requests)), wait_seconds=60)
        batcher.start()
        answers = await asyncio.gather(*map(batcher.probabilities, requests), return_exceptions=True)
        await batcher.stop()
        return answers

    answers = asyncio.run(label_concurrently())
    assert predictor.passes[0] == [text for texts in requests for text in texts], "the requests did not share a pass"
    assert isinstance(answers[2], UnencodableReviewError) and answers[2].index == 1, answers[2]
    expected = lstm_predictor.predict_probabilities(reviews)[[0, 1, 2, 4, 5]]
    np.testing.assert_allclose(np.concatenate([answers[0], answers[1], answers[3]]), expected, rtol=0, atol=1e-5)


def test_stopping_a_batcher_first_answers_the_requests_still_queued(lstm_predictor, imdb_splits):
    reviews = list(imdb_splits["test"]["text"][:3])

    async def stop_while_queued() -> list[asyncio.Future]:
        batcher = MicroBatcher(lstm_predictor, max_batch_size=64, wait_seconds=0.5)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.probabilities([review])) for review in reviews]
        async with asyncio.timeout(60):  # a guard: they queue as soon as the loop runs them
            while batcher.requests_waiting < len(reviews):
                await asyncio.sleep(0.01)
        # Nothing else runs on this loop before stop() begins: none of them can be answered in between.
        assert not any(future.done() for future in pending) and batcher.forward_passes == 0
        await batcher.stop()
        return pending

    pending = asyncio.run(stop_while_queued())
    assert all(future.done() and not future.cancelled() for future in pending), "stop() dropped queued requests"
    expected = lstm_predictor.predict_probabilities(reviews)
    np.testing.assert_allclose(np.concatenate([future.result() for future in pending]), expected, rtol=0, atol=1e-5)


TOKENIZER_REFUSES, MODEL_BREAKS = "A review this tokenizer refuses.", "A review this model breaks on."


@dataclass
class FaultyPredictor(RecordingPredictor):
    """The real predictor, failing on two marked reviews the two ways a forward pass can: its tokenizer raises on one
    (the client's fault: 422), and an unexpected error follows the other (the server's fault: 500)."""

    def _encode(self, texts: list[str], chunk_overlap: int | None):
        if TOKENIZER_REFUSES in texts:
            raise ValueError("no tokens for the marked review")
        return super()._encode(texts, chunk_overlap)

    def predict_probabilities(self, texts, *args, **options) -> np.ndarray:
        probabilities = super().predict_probabilities(texts, *args, **options)
        if MODEL_BREAKS in texts:
            raise RuntimeError("the model broke on the marked review")
        return probabilities


def test_only_the_failing_requests_of_a_shared_pass_get_errors(lstm_predictor, imdb_splits, caplog):
    predictor = FaultyPredictor(lstm_predictor.name, lstm_predictor.classifier, lstm_predictor.tokenizer)
    reviews = list(imdb_splits["test"]["text"][:8])
    bodies = [{"text": review} for review in reviews] + [
        {"texts": [reviews[0], TOKENIZER_REFUSES]},
        {"text": MODEL_BREAKS},
    ]
    # The batch closes when it is full: at 11 reviews, those of all the concurrent requests below, whenever each
    # arrives (a minute of waiting is the guard). So they share one forward pass.
    full_batch = sum(len(body["texts"]) if "texts" in body else 1 for body in bodies)
    app = create_app([predictor], ["key"], ServingLimits(max_batch_size=full_batch, batch_wait_seconds=60))
    with TestClient(app, raise_server_exceptions=False, headers={"x-api-key": "key"}) as client:
        with ThreadPoolExecutor(len(bodies)) as pool:
            responses = list(pool.map(lambda body: client.post("/predict", json=body), bodies))
    assert len(predictor.passes[0]) == len(reviews) + 3, "the requests did not share a forward pass"

    expected = lstm_predictor.predict_probabilities(reviews)
    for response, probabilities in zip(responses, expected):
        assert response.status_code == 200, response.text
        assert response.json()["prediction"]["score"] == pytest.approx(probabilities.max().item(), abs=1e-5)
    refused, broken = responses[len(reviews) :]
    assert refused.status_code == 422
    assert refused.json() == {
        "detail": "texts[1] cannot be tokenized by model 'lstm' (ValueError: no tokens for the marked review)."
    }
    assert (broken.status_code, broken.headers["content-type"]) == (500, "application/json")
    assert broken.json() == {"detail": "Internal server error (RuntimeError); the server logged it."}
    (logged,) = [record for record in caplog.records if record.name == "inference.serving"]
    assert logged.levelno == logging.ERROR and logged.getMessage() == "POST /predict failed"
    assert logged.exc_info[0] is RuntimeError and "Traceback" in caplog.text


@dataclass
class LoadCase:
    """One request of the load test: what it is, how to send it, and the answer it must get."""

    kind: str
    arguments: dict
    status: int
    labels: list[str] | None = None  # for a valid request: the offline predictor's label of each review


def invalid_cases(review: str) -> list[LoadCase]:
    """Every kind of bad request we can think of, each with the status it must get: never a 5xx."""
    key = {"x-api-key": ENV_KEYS[0], "content-type": "application/json"}

    def post(kind: str, status: int, body=None, content: bytes | None = None, headers: dict = key) -> LoadCase:
        content = content if content is not None else json.dumps(body).encode()
        return LoadCase(kind, {"method": "POST", "url": "/predict", "headers": headers, "content": content}, status)

    quoted = json.dumps(review).encode()  # the review as a JSON string, for raw bodies
    return [
        post("invalid JSON", 422, content=b'{"text": ' + quoted[:-20]),
        post("not UTF-8", 400, content=b'{"text": "A fine caf\xe9 film."}'),
        post("body not an object", 422, [review]),
        post("non-string text", 422, {"text": 42}),
        post("null in a batch", 422, {"texts": [review, None]}),
        post("texts not a list", 422, {"texts": review}),
        post("top_k not a number", 422, {"text": review, "top_k": "two"}),
        post("empty text", 422, {"text": ""}),
        post("whitespace in a batch", 422, {"texts": [review, " \n\t "]}),
        post("empty batch", 422, {"texts": []}),
        post("too long text", 422, {"text": "great " * 4000}),
        post("lone high surrogate", 422, content=b'{"text": "A fine \\ud800 film."}'),
        post("lone low surrogate in a batch", 422, content=b'{"texts": [' + quoted + b', "Fine \\udc00."]}'),
        post("surrogate pair reversed", 422, content=b'{"text": "Fine \\ude00\\ud83d film."}'),
        post("extra field", 422, {"text": review, "txt": review}),
        post("misspelled field", 422, {"review": review}),
        post("both fields", 422, {"text": review, "texts": [review]}),
        post("no review", 422, {"model": "lstm"}),
        post("unknown model", 422, {"text": review, "model": "gpt"}),
        post("batch over the limit", 422, {"texts": [review[:100]] * 65}),
        post("body over the byte limit", 413, {"text": "a" * MAX_BODY_BYTES}),
        post("missing key", 401, {"text": review}, headers={"content-type": "application/json"}),
        post("wrong key", 401, {"text": review}, headers={**key, "x-api-key": "not-a-key"}),
        post("top_k 0", 422, {"text": review, "top_k": 0}),
        post("top_k -1", 422, {"texts": [review], "top_k": -1}),
        post("top_k over the labels", 422, {"text": review, "top_k": 3}),
        LoadCase("wrong method", {"method": "GET", "url": "/predict", "headers": key}, 405),
        LoadCase("unknown route", {"method": "POST", "url": "/label", "headers": key, "content": quoted}, 404),
    ]


def valid_case(rng: random.Random, offline_labels: dict[str, str]) -> LoadCase:
    """A good request of random shape over real reviews, some ending in an emoji that JSON carries as the escapes of
    a surrogate pair (a valid one, unlike the invalid cases' lone halves)."""
    reviews = rng.sample(sorted(offline_labels), rng.randint(1, 8))
    body, kind = {"texts": reviews, "top_k": rng.choice([1, 2])}, "a batch"
    if len(reviews) == 1 and rng.random() < 0.5:
        body, kind = {"text": reviews[0]}, "one review"
    if rng.random() < 0.5:
        body["model"], kind = "lstm", kind + ", model named"
    content = json.dumps(body).encode()  # ensure_ascii: every non-ASCII character goes as an escape
    headers = {"x-api-key": FILE_KEY, "content-type": "application/json"}
    arguments = {"method": "POST", "url": "/predict", "headers": headers, "content": content}
    return LoadCase(kind, arguments, 200, [offline_labels[review] for review in reviews])


def answer_is_right(case: LoadCase, response: httpx.Response) -> bool:
    if response.status_code != case.status or response.headers.get("content-type") != "application/json":
        return False
    if case.labels is None:
        return bool(response.json()["detail"])
    answer = response.json()
    predictions = answer["predictions"] if "predictions" in answer else [answer["prediction"]]
    return answer["model"] == "lstm" and [prediction["label"] for prediction in predictions] == case.labels


# A fixed amount of work, not a fixed time: what runs, and so what is checked, is the same on a loaded machine.
LOAD_CLIENTS, REQUESTS_PER_CLIENT, VALID_SHARE = 32, 25, 0.6


def test_under_load_bad_requests_never_fail_good_ones(server, lstm_predictor, imdb_splits):
    reviews = list(imdb_splits["test"]["text"][:48])
    reviews += [f"{review} \U0001f600" for review in reviews[:16]]
    offline = lstm_predictor.predict_probabilities(reviews).argmax(-1).tolist()
    offline_labels = {review: lstm_predictor.labels[index] for review, index in zip(reviews, offline)}
    bad = invalid_cases(reviews[0])
    assert len(bad) <= LOAD_CLIENTS

    def schedule(seed: int) -> list[LoadCase]:
        """One client's requests, random but for one: client `seed` sends bad case `seed` somewhere among them, so
        that between them the clients send every kind of bad request."""
        rng = random.Random(seed)
        cases = [valid_case(rng, offline_labels) if rng.random() < VALID_SHARE else rng.choice(bad)
                 for _ in range(REQUESTS_PER_CLIENT - (seed < len(bad)))]  # fmt: skip
        if seed < len(bad):
            cases.insert(rng.randrange(len(cases) + 1), bad[seed])
        return cases

    async def run_clients() -> list[tuple[LoadCase, httpx.Response]]:
        results = []
        limits = httpx.Limits(max_connections=LOAD_CLIENTS)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:

            async def one_client(seed: int) -> None:
                for case in schedule(seed):
                    results.append((case, await client.request(**case.arguments)))

            await asyncio.gather(*map(one_client, range(LOAD_CLIENTS)))
        return results

    results = asyncio.run(run_clients())
    counts = Counter(f"{response.status_code // 100}xx" for _, response in results)
    summary = f"{len(results)} requests, {dict(sorted(counts.items()))}"
    print(f"\nLoad test, {LOAD_CLIENTS} clients of {REQUESTS_PER_CLIENT} requests each: {summary}")
    assert len(results) == LOAD_CLIENTS * REQUESTS_PER_CLIENT
    wrong = [(case.kind, response.status_code, response.text[:200]) for case, response in results
             if not answer_is_right(case, response)]  # fmt: skip
    assert not wrong, f"{len(wrong)} of {len(results)} answers were wrong, e.g. {wrong[:5]}"
    assert counts["5xx"] == 0
    assert {case.kind for case, _ in results} >= {case.kind for case in bad}, "some kinds of bad request never ran"
    assert server.process.poll() is None and "Traceback" not in server.log.read_text()


def test_sigterm_answers_the_requests_in_flight_then_exits_cleanly(
    trained_lstm_folder, lstm_predictor, imdb_splits, tmp_path
):
    """When SIGTERM comes, four requests wait in an open batch and a fifth is still sending its body. The batch stays
    open until it is full (or for 10 minutes, a guard never reached), and only the fifth request's reviews fill it,
    whose body the test finishes once the server refuses new connections: every answer comes after the shutdown
    began, by construction rather than by timing."""
    reviews = list(imdb_splits["test"]["text"][:64])  # a full batch: 4 requests of 12, then 16 in the fifth
    requests = [reviews[start : start + 12] for start in range(0, 48, 12)] + [reviews[48:]]
    held_body = json.dumps({"texts": requests[-1]}).encode()
    finish_body = threading.Event()

    def slowly_sent_body() -> Iterator[bytes]:
        yield held_body[: len(held_body) // 2]
        finish_body.wait(timeout=300)  # set by the test, or as it fails
        yield held_body[len(held_body) // 2 :]

    with serving(trained_lstm_folder, tmp_path, "--batch_wait_seconds", "600") as server:
        with ThreadPoolExecutor(len(requests)) as pool:
            try:
                in_flight = [pool.submit(server.post, {"texts": texts}) for texts in requests[:-1]]
                in_flight.append(
                    pool.submit(server.post, content=slowly_sent_body(), headers={"content-type": "application/json"})
                )
                load = wait_for(
                    server.load,
                    lambda load: (
                        (load["lstm"]["requests_waiting"], load["in_progress"]) == (4, 5)
                        or load["lstm"]["forward_passes"] > 0
                    ),
                    "four requests waiting in the open batch and a fifth sending its body",
                )
                assert load["lstm"]["forward_passes"] == 0, f"a forward pass ran before the batch was full: {load}"
                server.process.send_signal(signal.SIGTERM)
                wait_for(server.refuses_connections, bool, "the server to stop accepting connections after SIGTERM")
                unanswered = not any(future.done() for future in in_flight)
                assert unanswered, "a request was answered before the shutdown began: the test proves nothing"
            finally:
                finish_body.set()
            answers = [future.result() for future in in_flight]
        assert server.process.wait(timeout=60) == 0, server.log.read_text()[-4000:]

    for response, texts in zip(answers, requests, strict=True):
        assert response.status_code == 200, response.text
        expected = lstm_predictor.predict_probabilities(texts).argmax(-1).tolist()
        assert [p["label"] for p in response.json()["predictions"]] == [lstm_predictor.labels[i] for i in expected]
    assert "Traceback" not in server.log.read_text()


def test_the_onnx_backend_answers_as_torch(lstm_onnx_folder, lstm_predictor, imdb_splits, tmp_path):
    """The same folder served with `--backend onnx` (its ONNX export, by ONNX Runtime) gives PyTorch's labels and scores
    on real reviews, a long one among them."""
    texts = list(imdb_splits["test"]["text"][:40]) + [" ".join(" ".join(imdb_splits["test"]["text"]).split()[:3000])]
    port = free_loopback_port()
    command = [sys.executable, str(SERVE_SCRIPT), "--model", f"lstm={lstm_onnx_folder}", "--backend", "onnx",
               "--port", str(port)]  # fmt: skip
    url, log = f"http://127.0.0.1:{port}", tmp_path / "server.log"
    with running_server(command, f"{url}/health", log, {**os.environ, "SENTIMENT_API_KEYS": ENV_KEYS[0]}) as process:
        server = RunningServer(url, process, log)
        response = server.post({"texts": texts, "top_k": 2})
        described = httpx.get(f"{url}/models", headers={"x-api-key": ENV_KEYS[0]}).json()["models"][0]
    assert response.status_code == 200, response.text
    labels = lstm_predictor.labels
    assert described["backend"] == "onnx" and described["labels"] == labels
    assert described["num_parameters"] == lstm_predictor.describe()["num_parameters"]
    expected = lstm_predictor.predict_probabilities(texts)
    for prediction, row in zip(response.json()["predictions"], expected, strict=True):
        assert prediction["label"] == labels[row.argmax()]
        scores = {entry["label"]: entry["score"] for entry in prediction["scores"]}
        assert [scores[label] for label in labels] == pytest.approx(row.tolist(), abs=1e-4)

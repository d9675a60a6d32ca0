"""The REST API over loaded predictors (`scripts/serve.py` runs it with uvicorn).

Throughput comes from micro-batching: every model has one `MicroBatcher`, an asyncio queue whose worker takes all
the requests that arrived while the previous forward pass ran (optionally waiting a few milliseconds for more, up to
a full batch) and labels their reviews in one forward pass on a worker thread, so the event loop keeps accepting
requests while the model runs. Ten clients sending one review each cost about one forward pass of ten, not ten
passes of one.

Safety: every route but `/health` and the docs needs a key in the `x-api-key` header, compared in constant time;
bodies over the size limit are refused before they are parsed; each review's length and each batch's size are
capped, and text that is not valid Unicode is refused before it reaches a batch; every refusal is a 4xx JSON answer
`{"detail": "..."}` in plain words.

Isolation: no request fails because of another. If a shared forward pass fails anyway, its requests are labelled
again one by one and only those that fail alone fail (422 when the tokenizer refused a review, else 500). An
unexpected error is a 500 JSON answer with its traceback logged. At shutdown the batchers answer every queued
request before they stop.

Load: `GET /models` reports, per model, the requests served, the forward passes run and the requests waiting for an
answer from its batcher (queued, in an open batch or in a forward pass), and how many `/predict` requests the
server is handling now, those still sending their body included.
"""

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from transformers.utils import logging

from .predictor import (
    InputError,
    SentimentPredictor,
    UnencodableReviewError,
    check_encodable,
    prediction_records,
)

API_KEY_HEADER = "x-api-key"
# The environment variable that holds the server's API keys, comma-separated.
API_KEYS_VARIABLE = "SENTIMENT_API_KEYS"
# Routes anyone may call: liveness and the API's documentation. Every other path, unknown ones included, needs a key.
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})

logger = logging.get_logger(__name__)


@dataclass(frozen=True)
class ServingLimits:
    """What one request may ask for. The defaults fit IMDB: its longest review is about 13,700 characters."""

    max_text_characters: int = 20_000
    max_batch_size: int = 64
    max_body_bytes: int = 1_000_000
    # How long a batch stays open for requests that have not arrived yet. 0 takes only what piled up during the last
    # forward pass, which measured best here for the small LSTM (a short pass: little to gain from holding requests).
    batch_wait_seconds: float = 0.0


class PredictRequest(BaseModel):
    """One review in `text`, or several in `texts`; `model` names a loaded model (default: the first one)."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr | None = Field(None, description="One review to label.", examples=["A wonderful, moving film."])
    texts: list[StrictStr] | None = Field(None, description="Several reviews, labelled together.")
    model: StrictStr | None = Field(None, description="Name of a loaded model (see GET /models).")
    top_k: int = Field(1, ge=1, description="How many labels, best first, to give scores for.")


class LabelScore(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    label: str = Field(description="The most probable label.")
    score: float = Field(description="Its probability.")
    scores: list[LabelScore] = Field(description="The top_k labels, best first.")


class PredictResponse(BaseModel):
    """`prediction` answers a `text` request, `predictions` (in the order sent) a `texts` request."""

    model: str
    prediction: Prediction | None = None
    predictions: list[Prediction] | None = None


class MicroBatcher:
    """Gathers the reviews of concurrent requests into batches of at most `max_batch_size` for one model."""

    def __init__(self, predictor: SentimentPredictor, max_batch_size: int, wait_seconds: float):
        self.predictor = predictor
        self.max_batch_size = max_batch_size
        self.wait_seconds = wait_seconds
        self.queue: asyncio.Queue[tuple[Sequence[str], asyncio.Future]] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        # Reported by GET /models, so that anyone can see how many requests each forward pass served, and how many
        # are waiting now (queued, in the open batch or in its forward pass).
        self.requests_served = 0
        self.forward_passes = 0
        self.requests_waiting = 0

    def start(self) -> None:
        self.worker = asyncio.create_task(self._run(), name=f"micro-batcher-{self.predictor.name}")

    async def stop(self) -> None:
        """Answers every request already queued, then stops the worker."""
        if self.worker is not None:
            await self.queue.join()
            self.worker.cancel()
            await asyncio.gather(self.worker, return_exceptions=True)

    async def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The label probabilities of `texts`, computed in a batch shared with whatever else is waiting."""
        future = asyncio.get_running_loop().create_future()
        self.requests_waiting += 1
        try:
            await self.queue.put((texts, future))
            return await future
        finally:  # answered, failed, or given up by a client that disconnected
            self.requests_waiting -= 1

    async def _run(self) -> None:
        """Takes everything already queued (it piled up during the last forward pass), then waits for more only
        until `wait_seconds` after the batch opened, so an idle server adds at most that much latency."""
        loop = asyncio.get_running_loop()
        carried_over: tuple[Sequence[str], asyncio.Future] | None = None
        while True:
            batch = [carried_over or await self.queue.get()]
            size, carried_over = len(batch[0][0]), None
            deadline = loop.time() + self.wait_seconds
            while size < self.max_batch_size:
                if self.queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        waiting = await asyncio.wait_for(self.queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    waiting = self.queue.get_nowait()
                if size + len(waiting[0]) > self.max_batch_size:
                    carried_over = waiting  # would overflow this batch: it opens the next one
                    break
                batch.append(waiting)
                size += len(waiting[0])
            await self._label(batch)
            for _ in batch:  # `stop` waits until every queued request is answered
                self.queue.task_done()

    async def _label(self, batch: list[tuple[Sequence[str], asyncio.Future]]) -> None:
        """Answers each request of `batch` with its rows of one forward pass; if the pass fails, labels the requests
        one by one, so that only a request that fails alone gets an error, and the worker lives on."""
        texts = [text for request_texts, _ in batch for text in request_texts]
        try:
            probabilities = await asyncio.to_thread(
                self.predictor.predict_probabilities, texts, batch_size=self.max_batch_size
            )
        except Exception as error:
            if len(batch) == 1:
                ((_, future),) = batch
                if not future.done():  # a client that disconnected cancelled its future
                    future.set_exception(error)
                return
            for request_texts, future in batch:  # one of them broke the shared pass: find which, alone
                if not future.done():
                    await self._label([(request_texts, future)])
            return
        self.forward_passes += 1
        self.requests_served += len(batch)
        start = 0
        for request_texts, future in batch:
            if not future.done():  # a client that disconnected cancelled its future
                future.set_result(probabilities[start : start + len(request_texts)])
            start += len(request_texts)


class ServerErrorsAsJSON:
    """ASGI middleware, the outermost: an unexpected error becomes a 500 `{"detail": ...}` answer and a logged
    traceback, where Starlette would answer a plain-text page. Clients see the error's kind, not its details."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        response_started = False

        async def watched_send(message: dict) -> None:
            nonlocal response_started
            response_started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as error:
            logger.exception("%s %s failed", scope["method"], scope["path"])
            if not response_started:  # otherwise the client gets a cut-off answer: too late to replace it
                detail = f"Internal server error ({type(error).__name__}); the server logged it."
                await refuse(500, detail, scope, send)


@dataclass
class RequestsInProgress:
    """How many requests to one path the server has received and not yet answered."""

    path: str
    count: int = 0


class CountsRequestsInProgress:
    """ASGI middleware, outside RequestGuard: counts the requests to `in_progress.path` from the moment their headers
    arrive (before their body is read) until their answer is sent or their client is gone."""

    def __init__(self, app: Callable, in_progress: RequestsInProgress):
        self.app = app
        self.in_progress = in_progress

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] != self.in_progress.path:
            return await self.app(scope, receive, send)
        self.in_progress.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress.count -= 1


class RequestGuard:
    """ASGI middleware that turns a request away before FastAPI reads it: wrong key, oversized or non-UTF-8 body.

    The order is the point. The key is checked first, so a client without one gets 401 and the server reads none of
    its body; then the body is read up to `max_bytes` (413 as soon as it passes, whether or not a Content-Length was
    declared), so no client can make the server hold or parse more; then it must be UTF-8, as JSON is (400), which
    FastAPI would otherwise report as a bare "error parsing the body". The application gets the buffered body.
    Every route is guarded but `open_paths`.
    """

    def __init__(self, app: Callable, api_keys: Sequence[str], max_bytes: int, open_paths: frozenset[str]):
        self.app = app
        self.encoded_keys = [key.encode() for key in api_keys]
        self.max_bytes = max_bytes
        self.open_paths = open_paths

    def key_is_known(self, key: bytes) -> bool:
        """Compares with every known key in constant time, so timing tells nothing about a near miss."""
        matched = False
        for known in self.encoded_keys:
            matched |= hmac.compare_digest(key, known)
        return matched

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if scope["path"] not in self.open_paths:
            key = headers.get(API_KEY_HEADER.encode())
            if key is None:
                return await refuse(401, f"Missing API key: send it in the '{API_KEY_HEADER}' header.", scope, send)
            if not self.key_is_known(key):
                return await refuse(401, "Invalid API key.", scope, send)
        too_large = f"The request body is larger than the limit of {self.max_bytes} bytes."
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await refuse(413, too_large, scope, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await refuse(413, too_large, scope, send)
            if not message.get("more_body", False):
                break
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            not_utf8 = f"The request body is not valid UTF-8 (byte {error.start}: {error.reason})."
            return await refuse(400, not_utf8, scope, send)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect, as the server would say it
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def refuse(status_code: int, detail: str, scope: dict, send: Callable) -> None:
    """Answers with the same `{"detail": ...}` JSON that FastAPI's own HTTP errors use."""

    async def nothing_to_read() -> dict:
        return {"type": "http.disconnect"}

    await JSONResponse({"detail": detail}, status_code=status_code)(scope, nothing_to_read, send)


def describe_validation_error(error: RequestValidationError) -> str:
    """Pydantic's list of problems as one line a client can read, e.g. `texts[2]: Input should be a valid string`."""
    problems = []
    for problem in error.errors():
        if problem["type"] == "json_invalid":  # its location is the character where parsing stopped
            reason = problem.get("ctx", {}).get("error", problem["msg"])
            problems.append(f"The request body is not valid JSON: {reason} at character {problem['loc'][-1]}.")
            continue
        location = [str(part) for part in problem["loc"] if part != "body"]
        where = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in location).lstrip(".") or "body"
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)


def review_field(request: PredictRequest, index: int) -> str:
    """How the client named review `index` of its request: `text`, or `texts[index]`."""
    return "text" if request.text is not None else f"texts[{index}]"


def check_texts(request: PredictRequest, limits: ServingLimits) -> list[str]:
    """The reviews of a request, or a 422 naming the first rule broken (exactly one of text/texts, none blank, all
    valid Unicode...)."""
    if (request.text is None) == (request.texts is None):
        raise HTTPException(422, "Send exactly one of 'text' (one review) or 'texts' (a list of reviews).")
    texts = [request.text] if request.text is not None else request.texts
    if not texts:
        raise HTTPException(422, "'texts' is empty: send at least one review.")
    if len(texts) > limits.max_batch_size:
        raise HTTPException(422, f"'texts' holds {len(texts)} reviews; the limit is {limits.max_batch_size}.")
    for index, text in enumerate(texts):
        where = review_field(request, index)
        if not text.strip():
            raise HTTPException(422, f"{where} is empty or only whitespace.")
        if len(text) > limits.max_text_characters:
            raise HTTPException(422, f"{where} has {len(text)} characters; the limit is {limits.max_text_characters}.")
        try:
            check_encodable(text, where)
        except InputError as error:
            raise HTTPException(422, str(error)) from error
    return texts


def create_app(predictors: Sequence[SentimentPredictor], api_keys: Sequence[str], limits: ServingLimits) -> FastAPI:
    """The API over `predictors` (the first is the default model), open only to holders of one of `api_keys`."""
    if not predictors:
        raise ValueError("The API needs at least one model.")
    if not api_keys or not all(key.strip() for key in api_keys):
        raise ValueError("The API needs at least one non-empty API key.")
    by_name = {predictor.name: predictor for predictor in predictors}
    default_model = predictors[0].name
    batchers: dict[str, MicroBatcher] = {}
    predict_in_progress = RequestsInProgress("/predict")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for name, predictor in by_name.items():
            batchers[name] = MicroBatcher(predictor, limits.max_batch_size, limits.batch_wait_seconds)
            batchers[name].start()
        yield
        for batcher in batchers.values():
            await batcher.stop()

    app = FastAPI(
        title="IMDB sentiment API",
        description=f"Labels movie reviews with each model's classes (`/models` lists them). Send your key in the "
        f"`{API_KEY_HEADER}` header.",
        lifespan=lifespan,
    )
    # RequestGuard checks the key before the body is read; this declaration puts the scheme in the OpenAPI docs.
    documented_key = [Security(APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key."))]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation_error(error)}, status_code=422)

    @app.get("/health", summary="Liveness: open to all, no key needed.")
    async def health() -> dict:
        return {"status": "ok", "models": list(by_name)}

    @app.get(
        "/models",
        summary="The loaded models, their labels, input limits and load (requests served, waiting, in progress).",
        dependencies=documented_key,
    )
    async def models() -> dict:
        return {
            "default": default_model,
            "models": [
                {
                    **predictor.describe(),
                    "requests_served": batchers[predictor.name].requests_served,
                    "forward_passes": batchers[predictor.name].forward_passes,
                    "requests_waiting": batchers[predictor.name].requests_waiting,
                }
                for predictor in predictors
            ],
            "predict_requests_in_progress": predict_in_progress.count,
            "limits": {
                "max_text_characters": limits.max_text_characters,
                "max_batch_size": limits.max_batch_size,
                "max_body_bytes": limits.max_body_bytes,
            },
        }

    @app.post(
        "/predict",
        summary="Label one review (`text`) or a batch (`texts`) with the model named in `model`.",
        dependencies=documented_key,
        response_model_exclude_none=True,
    )
    async def predict(request: PredictRequest) -> PredictResponse:
        texts = check_texts(request, limits)
        name = request.model if request.model is not None else default_model
        if name not in by_name:
            raise HTTPException(422, f"Unknown model '{name}'; loaded models: {sorted(by_name)}.")
        labels = by_name[name].labels
        if request.top_k > len(labels):
            raise HTTPException(422, f"top_k is {request.top_k}; model '{name}' has {len(labels)} labels.")
        try:
            probabilities = await batchers[name].probabilities(texts)
        except UnencodableReviewError as error:
            where = review_field(request, error.index)
            raise HTTPException(422, f"{where} cannot be tokenized by model '{name}' ({error.reason}).") from error
        records = prediction_records(probabilities, labels, request.top_k)
        if request.text is not None:
            return PredictResponse(model=name, prediction=records[0])
        return PredictResponse(model=name, predictions=records)

    app.add_middleware(RequestGuard, api_keys=api_keys, max_bytes=limits.max_body_bytes, open_paths=OPEN_PATHS)
    # Outside RequestGuard, so that a request still sending its body counts.
    app.add_middleware(CountsRequestsInProgress, in_progress=predict_in_progress)
    app.add_middleware(ServerErrorsAsJSON)  # added last, so it wraps everything else, RequestGuard included
    return app


def read_api_keys(environment_value: str | None, keys_file: str | None) -> list[str]:
    """API keys from a comma-separated environment value and/or a file of one key per line (blank lines skipped)."""
    keys = [key.strip() for key in (environment_value or "").split(",") if key.strip()]
    if keys_file is not None:
        with open(keys_file, encoding="utf-8") as stream:
            keys += [line.strip() for line in stream if line.strip()]
    return keys

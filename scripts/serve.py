"""Serve saved sentiment models over a REST API (FastAPI, uvicorn), behind API keys.

    SENTIMENT_API_KEYS=key1,key2 python scripts/serve.py --model lstm=outputs/lstm-imdb [--model other=FOLDER ...]
    python scripts/serve.py --model lstm=outputs/lstm-imdb --api_keys_file keys.txt --port 8000
    python scripts/serve.py --model lstm=outputs/lstm-imdb --backend onnx     # ONNX Runtime, torch never loaded

    curl -s localhost:8000/health
    curl -s -H "x-api-key: key1" -H "content-type: application/json" \\
         -d '{"text": "A wonderful, moving film.", "model": "lstm"}' localhost:8000/predict

Routes: POST /predict, GET /models, GET /health (open), and the OpenAPI docs at /docs and /openapi.json.
The first --model is the default for requests that name none. The server listens on 127.0.0.1 unless --host says
otherwise. On SIGTERM it stops accepting connections, answers the requests in flight, and exits with code 0.
"""

import argparse
import os
import signal
import sys

import uvicorn

from inference.predictor import BACKEND_HELP, BACKENDS, load_predictor, parse_model_specs
from inference.serving import API_KEY_HEADER, API_KEYS_VARIABLE, ServingLimits, create_app, read_api_keys
from trainers.script_logging import setup_logging


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    defaults = ServingLimits()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", action="append", default=[], required=True, metavar="NAME=FOLDER",
        help="A model to serve under NAME: a saved model folder or Hub id. Repeat for several models.",
    )  # fmt: skip
    parser.add_argument(
        "--api_keys_file", help=f"A file of API keys, one per line; added to those in ${API_KEYS_VARIABLE} "
        f"(comma-separated). Clients send one in the '{API_KEY_HEADER}' header. At least one key is required."
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
    parser.add_argument("--device", default="cpu", help="Device to run the models on, e.g. cpu or cuda.")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=f"{BACKEND_HELP} Applies to every model.")
    parser.add_argument(
        "--max_text_characters", type=int, default=defaults.max_text_characters,
        help="Longest review accepted, in characters (longer ones get 422; accepted ones are still truncated to "
        "the model's max_length tokens).",
    )  # fmt: skip
    parser.add_argument(
        "--max_batch_size", type=int, default=defaults.max_batch_size,
        help="Most reviews in one request, and in one forward pass.",
    )  # fmt: skip
    parser.add_argument(
        "--max_body_bytes",
        type=int,
        default=defaults.max_body_bytes,
        help="Largest request body accepted (413 above).",
    )
    parser.add_argument(
        "--batch_wait_seconds", type=float, default=defaults.batch_wait_seconds,
        help="How long a batch stays open for more requests; 0 batches only those that queued during the last pass.",
    )  # fmt: skip
    return parser.parse_args(args)


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        model_paths = parse_model_specs(arguments.model)
        api_keys = read_api_keys(os.environ.get(API_KEYS_VARIABLE), arguments.api_keys_file)
        if not api_keys:
            raise ValueError(f"No API key: set ${API_KEYS_VARIABLE} or give --api_keys_file.")
        predictors = [
            load_predictor(name, path, arguments.device, arguments.backend) for name, path in model_paths.items()
        ]
    except (ValueError, OSError) as error:  # OSError: a missing keys file; SourceError (a model) is a ValueError
        sys.exit(f"error: {error}")
    limits = ServingLimits(
        arguments.max_text_characters, arguments.max_batch_size, arguments.max_body_bytes, arguments.batch_wait_seconds
    )
    # uvicorn answers SIGTERM with a graceful shutdown, then raises the signal again for the handler that was in place
    # before it ran (by default, death by signal). After a graceful shutdown, that is a clean exit.
    signal.signal(signal.SIGTERM, lambda signal_number, frame: sys.exit(0))
    uvicorn.run(create_app(predictors, api_keys, limits), host=arguments.host, port=arguments.port)


if __name__ == "__main__":
    main()

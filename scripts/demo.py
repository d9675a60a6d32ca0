"""A web demo of the sentiment models (Gradio): type a review, pick a model, see each label's probability.

    python scripts/demo.py --model lstm=outputs/lstm-imdb [--model other=FOLDER_OR_HUB_ID ...] [--port 7860]
    python scripts/demo.py --model lstm=outputs/lstm-imdb --backend onnx      # ONNX Runtime, torch never loaded

As a Hugging Face Space: `scripts/make_space.py` writes one whose `app.py` runs inference/demo.py; or name the models in the
variable SENTIMENT_MODELS, e.g. `lstm=org/imdb-lstm bert=org/imdb-bert` (spaces between models). Gradio's own
variables (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT) set where it listens when --host and --port are not given.
"""

import argparse
import os
import sys

from inference.demo import MODELS_VARIABLE, build_demo, load_predictors
from inference.predictor import BACKEND_HELP, BACKENDS
from trainers.script_logging import setup_logging


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", action="append", default=[], metavar="NAME=FOLDER",
        help=f"A model to offer under NAME: a saved model folder or Hub id. Repeat for several; without any, "
        f"the models come from ${MODELS_VARIABLE}.",
    )  # fmt: skip
    parser.add_argument("--host", help="Address to listen on (default: Gradio's, 127.0.0.1).")
    parser.add_argument("--port", type=int, help="Port to listen on (default: Gradio's, 7860).")
    parser.add_argument("--device", default="cpu", help="Device to run the models on, e.g. cpu or cuda.")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=f"{BACKEND_HELP} Applies to every model.")
    return parser.parse_args(args)


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        specs = arguments.model or os.environ.get(MODELS_VARIABLE, "").split()
        predictors = load_predictors(specs, arguments.device, arguments.backend)
    except (ValueError, OSError) as error:  # SourceError (a model) is a ValueError
        sys.exit(f"error: {error}")
    build_demo(predictors).launch(server_name=arguments.host, server_port=arguments.port)


if __name__ == "__main__":
    main()

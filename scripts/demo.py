"""A web demo of the sentiment models (Gradio): type a review, pick a model, see each label's probability.

    python scripts/demo.py --model lstm=outputs/lstm-imdb [--model other=FOLDER_OR_HUB_ID ...] [--port 7860]
    python scripts/demo.py --model lstm=outputs/lstm-imdb --backend onnx      # ONNX Runtime, torch never loaded

As a Hugging Face Space: `scripts/make_space.py` writes one whose `app.py` runs this file; or name the models in the
variable SENTIMENT_MODELS, e.g. `lstm=org/imdb-lstm bert=org/imdb-bert` (spaces between models). Gradio's own
variables (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT) set where it listens when --host and --port are not given.
"""

import argparse
import os
import sys

import gradio as gr

from trainers.inference import BACKEND_HELP, BACKENDS, SentimentPredictor, load_predictor, parse_model_specs
from trainers.script_logging import setup_logging

MODELS_VARIABLE = "SENTIMENT_MODELS"
# Plain cases, and the ones that trip word-counting models: negation, sarcasm, praise and blame in one review.
EXAMPLE_REVIEWS = [
    "A wonderful, moving film with a superb cast. I was smiling for days.",
    "Dull, predictable and far too long. I nearly walked out.",
    "I didn't hate it, but I wouldn't watch it again.",
    "Not bad at all: the acting was surprisingly good and the script never talks down to you.",
    "Oh great, another two hours of my life I'll never get back. Truly a masterpiece of boredom.",
    "The first half is brilliant; the second half throws all of it away.",
]


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


def build_demo(predictors: dict[str, SentimentPredictor]) -> gr.Blocks:
    """One text box, a model choice and probability bars; the examples fill the box and run the model."""

    def classify(review: str, model_name: str) -> dict[str, float]:
        if not review.strip():
            raise gr.Error("Type or pick a review first.")
        predictor = predictors[model_name]
        probabilities = predictor.predict_probabilities([review])[0]
        return dict(zip(predictor.labels, probabilities.tolist()))

    with gr.Blocks(title="IMDb sentiment") as demo:
        gr.Markdown("# IMDb sentiment\nType a movie review and see how sure each model is that it is positive.")
        with gr.Row():
            with gr.Column():
                review = gr.Textbox(label="Review", lines=6, placeholder="Type a movie review...")
                model_name = gr.Dropdown(choices=list(predictors), value=next(iter(predictors)), label="Model")
                submit = gr.Button("Classify", variant="primary")
            most_labels = max(len(predictor.labels) for predictor in predictors.values())
            probabilities = gr.Label(label="Sentiment", num_top_classes=most_labels)
        gr.Examples(
            examples=[[text, next(iter(predictors))] for text in EXAMPLE_REVIEWS],
            inputs=[review, model_name],
            outputs=probabilities,
            fn=classify,
            run_on_click=True,
            cache_examples=False,
        )
        submit.click(classify, inputs=[review, model_name], outputs=probabilities)
        review.submit(classify, inputs=[review, model_name], outputs=probabilities)
    return demo


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        specs = arguments.model or os.environ.get(MODELS_VARIABLE, "").split()
        predictors = {
            name: load_predictor(name, path, arguments.device, arguments.backend)
            for name, path in parse_model_specs(specs).items()
        }
    except (ValueError, OSError) as error:  # SourceError (a model) is a ValueError
        sys.exit(f"error: {error}")
    build_demo(predictors).launch(server_name=arguments.host, server_port=arguments.port)


if __name__ == "__main__":
    main()

"""The web demo (Gradio): a text box, a model choice and probability bars, over any sentiment models; what
`scripts/demo.py` launches and a Hugging Face Space (`scripts/make_space.py`) runs."""

import gradio as gr

from .predictor import SentimentPredictor, load_predictor, parse_model_specs

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


def load_predictors(specs: list[str], device: str = "cpu", backend: str = "torch") -> dict[str, SentimentPredictor]:
    """The models named by `NAME=FOLDER_OR_HUB_ID` specs, in order, each loaded for the demo."""
    return {name: load_predictor(name, path, device, backend) for name, path in parse_model_specs(specs).items()}

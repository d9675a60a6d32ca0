"""Measure a saved model folder through every door users take, on the same test reviews, in one table.

    python scripts/benchmark_pipeline.py outputs/lstm-imdb --dataset_name ../shared/data/imdb --max_samples 3000
    python scripts/benchmark_pipeline.py outputs/lstm-imdb --dataset_name ../shared/data/imdb --max_samples 3000 \\
        --backends torch torch-bf16 onnx onnx-int8   # after scripts/export_onnx.py --model outputs/lstm-imdb --int8

Rows: `pipeline("sentiment-analysis")` called on the list of reviews with batch size 1 and `--batch_size` (and, with
the torch-bf16 backend, loaded with `dtype=torch.bfloat16` as a user would load it in bfloat16), then for each of
`--backends` (PyTorch in float32 or bfloat16, ONNX Runtime on the folder's float or int8 export) the project's
predictor (`inference.predictor`, as `predict.py`, `serve.py` and the demo use it) and the model alone: the reviews
tokenized in one call, then forward passes over length-sorted batches of `--sorted_batch_size` with nothing else
around them (the ceiling every door is compared with). Each row gives reviews/s, its ratio to the sorted model alone
on the first backend, the accuracy of its labels, and the largest change of a review's probabilities from the first
row's (`pipeline` in the folder's own dtype; the mean change is in the JSON). Labels and probabilities must be the same
in every row but int8's and bfloat16's (the same reviews through the same weights and the same cut; int8 and bfloat16
round the weights). A folder that reads long reviews in windows (`chunk_overlap`) is measured on its cut here;
scripts/benchmark_long_reviews.py measures what windows cost. Prints the table as Markdown, then the report as JSON.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch
from transformers import pipeline

from inference.batching import length_sorted_batches
from inference.predictor import BACKENDS, SentimentPredictor, load_predictor
from trainers.data import DEFAULT_DATASET, load_sentiment_splits
from trainers.script_logging import setup_logging


def timed(label: str, run) -> dict:
    """Runs `run()` once (it returns the label probabilities, one row per review) and times it."""
    started = time.perf_counter()
    probabilities = run()
    return {"door": label, "seconds": time.perf_counter() - started, "probabilities": probabilities}


def main(args: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="Model folder or Hub id.")
    parser.add_argument("--dataset_name", default=DEFAULT_DATASET, help="Hub id or local folder of the dataset.")
    parser.add_argument("--max_samples", type=int, help="Label a seeded random subset of this many test reviews.")
    parser.add_argument("--batch_size", type=int, default=64, help="Reviews per forward pass of pipeline/predictor.")
    parser.add_argument("--sorted_batch_size", type=int, default=128, help="Batch size of the model-alone row.")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the subset.")
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=["torch"], help="What runs the predictor and the model "
        "alone rows, one pair of rows each; the ONNX ones need scripts/export_onnx.py (--int8 for onnx-int8) first."
    )  # fmt: skip
    options = parser.parse_args(args)
    setup_logging()
    try:
        predictors = {backend: load_predictor("model", options.model, backend=backend) for backend in options.backends}
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")

    splits = load_sentiment_splits(options.dataset_name, seed=options.seed, max_test_samples=options.max_samples)
    reviews = splits["test"]
    texts, gold = list(reviews["text"]), reviews["label"]
    classifier = pipeline("sentiment-analysis", model=options.model, trust_remote_code=True)
    label_index = classifier.model.config.label2id

    def through_pipeline(batch_size: int, loaded=classifier):
        def run():
            probabilities = np.zeros((len(texts), len(label_index)), dtype=np.float32)
            for row, scores in zip(probabilities, loaded(texts, batch_size=batch_size, truncation=True, top_k=None)):
                for score in scores:
                    row[label_index[score["label"]]] = score["score"]
            return probabilities

        return run

    def through_predictor(predictor: SentimentPredictor):
        # The cut, as every other row reads: a folder that reads long reviews in windows (chunk_overlap) is slower
        # on them by what scripts/benchmark_long_reviews.py measures.
        return lambda: predictor.predict_probabilities(texts, options.batch_size, chunk_overlap=None)

    def model_alone(predictor: SentimentPredictor):
        def run():
            encoded = predictor.tokenizer(texts, truncation=True)
            probabilities = np.zeros((len(texts), len(predictor.labels)), dtype=np.float32)
            for batch in length_sorted_batches([len(ids) for ids in encoded["input_ids"]], options.sorted_batch_size):
                rows = {name: [values[i] for i in batch] for name, values in encoded.items()}
                padded = predictor.tokenizer.pad(rows, return_tensors="np")
                probabilities[batch] = predictor.to_probabilities(predictor.classifier(dict(padded)))
            return probabilities

        return run

    rows = [
        timed("pipeline, batch size 1", through_pipeline(1)),
        timed(f"pipeline, batch size {options.batch_size}", through_pipeline(options.batch_size)),
    ]
    if "torch-bf16" in predictors:
        in_bfloat16 = pipeline("sentiment-analysis", model=options.model, trust_remote_code=True, dtype=torch.bfloat16)
        rows.append(
            timed(
                f"pipeline, bfloat16, batch size {options.batch_size}",
                through_pipeline(options.batch_size, in_bfloat16),
            )
        )
    sorted_row = len(rows) + 1  # the first backend's model alone, the rate every row is compared with
    for backend, predictor in predictors.items():
        rows.append(
            timed(f"project predictor, {backend}, batch size {options.batch_size}", through_predictor(predictor))
        )
        rows.append(
            timed(f"model alone, {backend}, sorted batches of {options.sorted_batch_size}", model_alone(predictor))
        )
    sorted_rate = len(texts) / rows[sorted_row]["seconds"]
    reference = rows[0]["probabilities"]
    for row in rows:
        probabilities = row.pop("probabilities")
        change = np.abs(probabilities - reference)
        row["reviews_per_second"] = round(len(texts) / row["seconds"], 1)
        row["share_of_sorted_rate"] = round(row["reviews_per_second"] / sorted_rate, 3)
        row["accuracy"] = float(np.mean(probabilities.argmax(-1) == np.asarray(gold)))
        row["largest_probability_change"] = float(change.max())
        row["mean_probability_change"] = float(change.mean())
        row["seconds"] = round(row["seconds"], 2)

    print(f"{len(texts):,} test reviews, {options.model}, {torch.get_num_threads()} threads\n")
    print("| door | reviews/s | share of sorted rate | accuracy | largest probability change |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['door']} | {row['reviews_per_second']:,.1f} | {row['share_of_sorted_rate']:.0%} | "
              f"{100 * row['accuracy']:.2f}% | {row['largest_probability_change']:.4f} |")  # fmt: skip
    report = {"model": options.model, "reviews": len(texts), "rows": rows}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

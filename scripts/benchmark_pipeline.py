"""Measure a saved model folder the way users run it: `pipeline("sentiment-analysis")` over the test split.

    python scripts/benchmark_pipeline.py outputs/lstm-imdb --dataset_name ../shared/data/imdb [--batch_size 64]

Prints reviews/s and the accuracy of the pipeline's labels, which should equal the test accuracy in the folder's
`all_results.json` (the same reviews through the same weights, only by the user's door).
"""

import argparse
import json
import time

from tqdm.auto import tqdm
from transformers import pipeline
from transformers.pipelines.pt_utils import KeyDataset

from trainers.data import DEFAULT_DATASET, load_sentiment_splits


def main(args: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="Model folder or Hub id.")
    parser.add_argument("--dataset_name", default=DEFAULT_DATASET, help="Hub id or local folder of the dataset.")
    parser.add_argument("--max_samples", type=int, help="Label a seeded random subset of this many test reviews.")
    parser.add_argument("--batch_size", type=int, default=64, help="Reviews per forward pass.")
    parser.add_argument("--seed", type=int, default=42, help="Seed of the subset.")
    options = parser.parse_args(args)

    splits = load_sentiment_splits(options.dataset_name, seed=options.seed, max_test_samples=options.max_samples)
    reviews = splits["test"]
    classifier = pipeline("sentiment-analysis", model=options.model, trust_remote_code=True)
    label_names = reviews.features["label"].names

    started = time.perf_counter()
    outputs = classifier(KeyDataset(reviews, "text"), batch_size=options.batch_size, truncation=True)
    predicted = [result["label"] for result in tqdm(outputs, total=len(reviews), desc="Labelling")]
    seconds = time.perf_counter() - started

    correct = sum(label == label_names[gold] for label, gold in zip(predicted, reviews["label"]))
    report = {
        "model": options.model,
        "reviews": len(reviews),
        "batch_size": options.batch_size,
        "seconds": round(seconds, 2),
        "reviews_per_second": round(len(reviews) / seconds, 1),
        "accuracy": correct / len(reviews),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

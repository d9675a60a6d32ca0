"""Measure the verbalizer's feature encoding against a plain `AutoModel` forward, on the same real reviews.

    python scripts/benchmark_encoding.py --encoder_name_or_path path/to/all-MiniLM-L6-v2 --dataset_name path/to/imdb

Both read the same reviews (a seeded sample of the test split) at the same batch size and maximum length on the same
threads. The plain forward is what one writes first: reviews in dataset order, `tokenizer(..., truncation=True,
padding=True)` per batch, `torch.no_grad()`. The verbalizer's step is `trainers.features.encode_split`: reviews
sorted by length within windows, `torch.inference_mode()`, the template appended, rows cut head and tail.
"""

import argparse
import json
import time

import torch
from transformers import AutoModel, AutoTokenizer

from models import VerbalizerConfig
from trainers.data import DEFAULT_DATASET, load_sentiment_splits
from trainers.features import build_verbalizer, encode_split
from trainers.script_logging import setup_logging


def plain_forward(encoder_name_or_path: str, texts: list[str], batch_size: int, max_length: int) -> float:
    """Seconds a plain `AutoModel` forward takes over `texts`, in their order."""
    tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path)
    model = AutoModel.from_pretrained(encoder_name_or_path).eval()
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            model(**tokenizer(batch, truncation=True, max_length=max_length, padding=True, return_tensors="pt"))
    return time.perf_counter() - started


def main(args: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder_name_or_path", required=True, help="Hub id or local folder of the encoder.")
    parser.add_argument("--dataset_name", default=DEFAULT_DATASET, help="Hub id or local folder of the dataset.")
    parser.add_argument("--num_reviews", type=int, default=1000, help="Test reviews each method encodes.")
    parser.add_argument("--batch_size", type=int, default=32, help="Reviews per forward pass, for both methods.")
    parser.add_argument("--max_length", type=int, default=256, help="Tokens per review, for both methods.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the sample of test reviews.")
    options = parser.parse_args(args)
    setup_logging()
    if options.num_reviews < 1 or options.batch_size < 1:
        parser.error("--num_reviews and --batch_size must be at least 1")

    reviews = load_sentiment_splits(options.dataset_name, seed=options.seed, max_test_samples=options.num_reviews)
    test = reviews["test"]
    model, tokenizer = build_verbalizer(
        {"encoder_name_or_path": options.encoder_name_or_path, "template": VerbalizerConfig.template},
        options.max_length,
    )
    started = time.perf_counter()
    # An in-memory copy: `datasets` writes no cache for it, so every review is really encoded.
    encode_split(test.flatten_indices(keep_in_memory=True), model, tokenizer, options.batch_size, "benchmark", "test")
    verbalizer_seconds = time.perf_counter() - started
    plain_seconds = plain_forward(options.encoder_name_or_path, test["text"], options.batch_size, options.max_length)

    results = {
        "reviews": len(test),
        "batch_size": options.batch_size,
        "max_length": options.max_length,
        "torch_threads": torch.get_num_threads(),
        "plain_automodel_reviews_per_second": len(test) / plain_seconds,
        "verbalizer_encoding_reviews_per_second": len(test) / verbalizer_seconds,
        "speedup": plain_seconds / verbalizer_seconds,
    }
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

"""How a model does on the reviews longer than it reads, by the way it reads them; optionally, make the best way
(chosen on the validation split) the folder's own cut, so every door reads long reviews that way.

    python scripts/benchmark_long_reviews.py outputs/lstm-imdb --dataset_name ../shared/data/imdb --split validation
    python scripts/benchmark_long_reviews.py outputs/lstm-imdb --dataset_name ../shared/data/imdb --split validation \\
        --write_best
    python scripts/benchmark_long_reviews.py outputs/lstm-imdb --dataset_name ../shared/data/imdb --split test

Ways (--ways): `head` (the first max_length tokens), `tail` (the last), `head_tail` (the first --head_tokens and the
end), `chunks` (windows of max_length tokens overlapping by --chunk_overlap, their probabilities averaged, as
`predict.py --chunk_overlap` reads). Only the reviews longer than the model's max_length are read by each way; the
split's accuracy column counts the short ones too (read whole, the same by every way). Reviews/s are on the long
reviews, on this machine's threads. The validation split is the one training carved with the same --seed and
--validation_fraction. --write_best (validation only) makes the winning way the folder's own, in its
tokenizer_config.json: a cut every door applies, or windows (`chunk_overlap`) that predict.py, the server and the demo
apply on either backend (`pipeline` cannot split a text: it keeps the cut). A folder with saved test predictions then
has its long test reviews read again that way, and its test figures, predictions and model card rewritten.
Prints the table as Markdown, then the figures as JSON.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from evaluation.long_reviews import (
    CHUNKS,
    WAYS,
    best_way,
    long_review_markdown,
    long_review_table,
    rescore_test_split,
    ways_to_compare,
    write_reading,
    write_rescored_test_split,
)
from evaluation.model_evaluation import evaluated_split
from inference.labels import match_labels
from inference.predictor import load_predictor
from model_cards.recalibration import folder_recipe, rewrite_card
from trainers.arguments import add_dataset_arguments, dataset_source
from trainers.data import DEFAULT_VALIDATION_FRACTION
from trainers.run_folder import CARD_FILE, RECIPE_FILE, TEST_PREDICTIONS_FILE
from trainers.script_logging import setup_logging


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A model folder of this project.")
    add_dataset_arguments(parser)
    parser.add_argument("--split", choices=("validation", "test"), default="validation",
                        help="Where to measure (default: validation, where a way is chosen).")  # fmt: skip
    parser.add_argument("--validation_fraction", type=float, default=DEFAULT_VALIDATION_FRACTION,
                        help="As in training (default: %(default)s).")  # fmt: skip
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="As in training (its split_seed, if it gave one): it carves the validation split.",
    )
    parser.add_argument("--max_samples", type=int, help="Read a seeded random subset of this many of the split.")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS), help="Ways to compare, the first "
                        "the reference of the time column (default: %(default)s).")  # fmt: skip
    parser.add_argument("--head_tokens", type=int, default=128, help="head_tail's tokens from the start.")
    parser.add_argument("--chunk_overlap", type=int, default=128, help="Tokens each chunk shares with the previous.")
    parser.add_argument("--batch_size", type=int, default=64, help="Reviews per forward pass (default: 64).")
    parser.add_argument("--device", default="cpu", help="Device, e.g. cpu or cuda (default: cpu).")
    parser.add_argument(
        "--write_best",
        action="store_true",
        help="Make the best way the folder's own, and re-score its test split that way (validation only).",
    )
    parser.add_argument("--output_file", help="Also write the figures as JSON to this file.")
    arguments = parser.parse_args(args)
    if arguments.write_best and arguments.split != "validation":
        parser.error("--write_best chooses on the validation split only: add --split validation.")
    return arguments


def model_labels(predictor, split) -> np.ndarray:
    """The split's labels as indices of the model's labels, which must be the dataset's classes."""
    dataset_classes = split.features["label"].names
    mapping = match_labels(predictor.labels, dataset_classes)
    if sorted(mapping) != list(range(len(dataset_classes))):
        raise ValueError(f"The model's labels {predictor.labels} are not the dataset's {dataset_classes}.")
    to_model = {dataset_index: model_index for model_index, dataset_index in enumerate(mapping)}
    return np.array([to_model[label] for label in split["label"]])


def write_best_way(arguments: argparse.Namespace, predictor, ways: list, table: dict) -> dict:
    """Makes the way best on validation the folder's own and, if the folder has saved test predictions, brings its
    test figures, predictions and card up to date with it. Returns what was written."""
    best = best_way(table)
    way = next(way for way in ways if way.name == best["way"])
    rescored = None
    if (Path(arguments.model) / TEST_PREDICTIONS_FILE).is_file():
        # The run's own test reviews: all of the split, or the subset its recipe drew (max_test_samples).
        run_subset = folder_recipe(arguments.model).get("max_test_samples")
        test_options = argparse.Namespace(**{**vars(arguments), "split": "test", "max_samples": run_subset})
        test, _ = evaluated_split(dataset_source(arguments), test_options)
        rescored = rescore_test_split(
            arguments.model, predictor, list(test["text"]), model_labels(predictor, test), way, arguments.batch_size
        )
    write_reading(arguments.model, way)
    written = {"way": way.name, "head_tokens": way.head_tokens, "chunk_overlap": way.chunk_overlap}
    doors = "predict.py, the server and the demo (pipeline keeps its cut)" if way.name == CHUNKS else "every door"
    print(f"Written into {arguments.model}/tokenizer_config.json: {best['description']}, which {doors} now reads.")
    if rescored:
        write_rescored_test_split(arguments.model, rescored)
        folder = Path(arguments.model)
        if (folder / CARD_FILE).is_file() and (folder / RECIPE_FILE).is_file():
            rewrite_card(folder)
        before, after = rescored["previous_test_accuracy"], rescored["results"]["test_accuracy"]
        reread = rescored["results"]["long_review_reading"]["test_reviews_read_again"]
        written["test_accuracy"] = {"before": before, "after": after, "reviews_read_again": reread}
        print(
            f"Test split: its {reread:,} long reviews read again this way; accuracy {100 * before:.2f}% -> "
            f"{100 * after:.2f}%. {TEST_PREDICTIONS_FILE}, all_results.json and the model card rewritten."
        )
    return written


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        ways = ways_to_compare(arguments.ways, arguments.head_tokens, arguments.chunk_overlap)
        predictor = load_predictor("model", arguments.model, arguments.device)
        split, _ = evaluated_split(dataset_source(arguments), arguments)
        table = long_review_table(
            predictor, list(split["text"]), model_labels(predictor, split), ways, arguments.batch_size
        )
        table.update(model=arguments.model, split=arguments.split, seed=arguments.seed)
        print(long_review_markdown(table, arguments.split))
        if arguments.write_best:
            table["written"] = write_best_way(arguments, predictor, ways, table)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps(table, indent=2))
    if arguments.output_file:
        with open(arguments.output_file, "w") as file:
            json.dump(table, file, indent=2)
    return table


if __name__ == "__main__":
    main()

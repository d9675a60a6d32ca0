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
--validation_fraction. --write_best (validation only) writes the winning cut into the folder's tokenizer_config.json;
chunks cannot be a folder's cut (it is a choice at prediction time), so a chunks win is reported and not written.
Prints the table as Markdown, then the figures as JSON.
"""

import argparse
import json
import sys

import numpy as np

from evaluation.long_reviews import (
    CHUNKS,
    WAYS,
    best_way,
    long_review_markdown,
    long_review_table,
    ways_to_compare,
    write_truncation,
)
from evaluation.model_evaluation import evaluated_split
from inference.labels import match_labels
from inference.predictor import load_predictor
from trainers.arguments import add_dataset_arguments, dataset_source
from trainers.data import DEFAULT_VALIDATION_FRACTION
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
    parser.add_argument("--write_best", action="store_true", help="Write the best cut into the folder (validation).")
    parser.add_argument("--output_file", help="Also write the figures as JSON to this file.")
    arguments = parser.parse_args(args)
    if arguments.write_best and arguments.split != "validation":
        parser.error("--write_best chooses on the validation split only: add --split validation.")
    return arguments


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        ways = ways_to_compare(arguments.ways, arguments.head_tokens, arguments.chunk_overlap)
        predictor = load_predictor("model", arguments.model, arguments.device)
        split, dataset_classes = evaluated_split(dataset_source(arguments), arguments)
        mapping = match_labels(predictor.labels, dataset_classes)
        if sorted(mapping) != list(range(len(dataset_classes))):
            raise ValueError(f"The model's labels {predictor.labels} are not the dataset's {dataset_classes}.")
        to_model = {dataset_index: model_index for model_index, dataset_index in enumerate(mapping)}
        labels = np.array([to_model[label] for label in split["label"]])
        table = long_review_table(predictor, list(split["text"]), labels, ways, arguments.batch_size)
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    table.update(model=arguments.model, split=arguments.split, seed=arguments.seed)
    print(long_review_markdown(table, arguments.split))
    if arguments.write_best:
        best = best_way(table)
        table["written"] = None
        if best["way"] == CHUNKS:
            print(f"Best on validation: {best['description']}, which a folder's cut cannot be; nothing written.")
        else:
            write_truncation(arguments.model, best["way"], best["head_tokens"])
            table["written"] = {"truncation": best["way"], "head_tokens": best["head_tokens"]}
            print(
                f"Written into {arguments.model}/tokenizer_config.json: {best['description']}. Its card and saved test "
                "predictions still describe the previous cut; scripts/evaluate_model.py scores it as it now reads."
            )
    print(json.dumps(table, indent=2))
    if arguments.output_file:
        with open(arguments.output_file, "w") as file:
            json.dump(table, file, indent=2)
    return table


if __name__ == "__main__":
    main()

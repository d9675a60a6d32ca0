"""Label movie reviews with a saved model folder and write JSONL or CSV records with labels and scores.

    python scripts/predict.py --model outputs/lstm-imdb "A wonderful film." "Dull and far too long."
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.txt             # one review per line
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.csv --column review --output labels.csv
    cat reviews.jsonl | python scripts/predict.py --model outputs/lstm-imdb --input_format jsonl --top_k 2
    python scripts/predict.py --model outputs/lstm-imdb --backend onnx "A wonderful film."   # ONNX Runtime, no torch

Reviews longer than the model's `model_max_length` tokens are truncated, or, with `--chunk_overlap N`, split into
overlapping windows whose scores are averaged. Output rows follow the input rows in order.
"""

import argparse
import sys
from contextlib import nullcontext

from trainers.inference import (
    BACKEND_HELP,
    BACKENDS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    InputError,
    check_reviews,
    check_top_k,
    format_from_suffix,
    load_predictor,
    prediction_records,
    read_reviews,
    write_records,
)
from trainers.script_logging import setup_logging

# Below this many reviews the run is over too soon for a progress bar to help.
PROGRESS_BAR_MIN_REVIEWS = 256


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("texts", nargs="*", help="Reviews to label. Without them, reviews come from --input or stdin.")
    parser.add_argument("--model", required=True, help="A saved model folder (scripts/train.py output) or Hub id.")
    parser.add_argument("--input", help="A file of reviews, or '-' for stdin (the default when no texts are given).")
    parser.add_argument(
        "--input_format", choices=INPUT_FORMATS, help="Format of --input: text is one review per line. "
        "Default: from the file's suffix (.txt, .csv, .jsonl/.json); text for stdin."
    )  # fmt: skip
    parser.add_argument("--column", default="text", help="The CSV column or JSONL field holding the review.")
    parser.add_argument("--output", help="Where to write the records (default: stdout).")
    parser.add_argument(
        "--output_format", choices=OUTPUT_FORMATS, help="Default: from the --output suffix; jsonl for stdout."
    )
    parser.add_argument("--top_k", type=int, default=1, help="How many labels, best first, to give scores for.")
    parser.add_argument("--batch_size", type=int, default=32, help="Reviews per forward pass.")
    parser.add_argument(
        "--chunk_overlap", type=int, help="Split long reviews into windows of the model's maximum length sharing "
        "this many tokens, and average their scores, instead of cutting them at the maximum length."
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="Device to run the model on, e.g. cpu or cuda.")
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)
    return parser.parse_args(args)


def gather_reviews(arguments: argparse.Namespace) -> list[str]:
    if arguments.texts and arguments.input:
        raise InputError("Give reviews either as arguments or with --input, not both.")
    if arguments.texts:
        check_reviews(arguments.texts, "the arguments")
        return arguments.texts
    source = arguments.input or "-"
    input_format = arguments.input_format or format_from_suffix(source, INPUT_FORMATS, default="text")
    try:
        if source == "-":
            if sys.stdin.isatty():
                raise InputError("No reviews: give them as arguments, with --input, or on standard input.")
            return read_reviews(sys.stdin, input_format, arguments.column, "standard input")
        with open(source, encoding="utf-8", newline="") as stream:
            return read_reviews(stream, input_format, arguments.column, source)
    except (FileNotFoundError, IsADirectoryError) as error:
        raise InputError(f"Cannot read --input '{source}': {error.strerror}.") from error
    except UnicodeDecodeError as error:  # standard input too, when its locale decodes strictly
        name = "Standard input" if source == "-" else f"'{source}'"
        raise InputError(f"{name} is not UTF-8 text: {error.reason} at byte {error.start}.") from error


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    try:
        texts = gather_reviews(arguments)
        output_format = arguments.output_format or format_from_suffix(arguments.output, OUTPUT_FORMATS, "jsonl")
        predictor = load_predictor("model", arguments.model, arguments.device, arguments.backend)
        check_top_k(arguments.top_k, predictor.labels)
        probabilities = predictor.predict_probabilities(
            texts,
            arguments.batch_size,
            show_progress=len(texts) >= PROGRESS_BAR_MIN_REVIEWS,
            chunk_overlap=arguments.chunk_overlap,
        )
        records = prediction_records(probabilities, predictor.labels, arguments.top_k)
    except (ValueError, OSError) as error:  # InputError and SourceError (the model) are ValueErrors
        sys.exit(f"error: {error}")
    output = nullcontext(sys.stdout) if arguments.output in (None, "-") else open(arguments.output, "w", newline="")
    with output as stream:
        write_records(records, stream, output_format)


if __name__ == "__main__":
    main()

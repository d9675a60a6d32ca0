"""Label movie reviews with a saved model folder and write JSONL or CSV records with labels and scores.

    python scripts/predict.py --model outputs/lstm-imdb "A wonderful film." "Dull and far too long."
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.txt             # one review per line
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.csv --column review --output labels.csv
    cat reviews.jsonl | python scripts/predict.py --model outputs/lstm-imdb --input_format jsonl --top_k 2
    python scripts/predict.py --model outputs/lstm-imdb --backend onnx "A wonderful film."   # ONNX Runtime, no torch

Reviews longer than the model's `model_max_length` tokens are read as the folder says: cut by its tokenizer's rule,
or, if its tokenizer_config.json sets `chunk_overlap` (scripts/benchmark_long_reviews.py --write_best), split into
overlapping windows whose scores are averaged. `--chunk_overlap N` (windows) or `--chunk_overlap none` (the cut)
overrides it. Output rows follow the input rows in order.

Large inputs: a file given with --input is streamed, --rows_in_memory reviews at a time (standard input and reviews
given as arguments are held in memory whole), and its rows are all checked before the first is labelled. To share
the labelling among GPUs or machines, launch it with accelerate; the output is the same as with one process:

    accelerate launch --multi_gpu --num_processes 4 scripts/predict.py --model outputs/lstm-imdb --input big.jsonl \\
        --output labels.jsonl
    accelerate launch --multi_gpu --num_processes 2 scripts/predict.py --device cpu ...   # CPU processes, over gloo

The main process reads the input (it need only be on the first machine), sends each process its share of every
block of rows, and writes the records in input order.
"""

import argparse
import sys

from inference.labelling import label_to_output, labelling_processes
from inference.predictor import (
    BACKEND_HELP,
    BACKENDS,
    CHUNK_OVERLAP_HELP,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    SAVED_READING,
    InputError,
    chunk_overlap_option,
)
from trainers.script_logging import setup_logging


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
        "--chunk_overlap", type=chunk_overlap_option, default=SAVED_READING, metavar="TOKENS|none|saved",
        help=CHUNK_OVERLAP_HELP,
    )  # fmt: skip
    parser.add_argument(
        "--rows_in_memory", type=int, default=10_000, help="How many reviews of a file are read, labelled and "
        "written at a time (shared among the processes of an accelerate launch)."
    )  # fmt: skip
    parser.add_argument(
        "--device", help="Torch device to run the model on, e.g. cpu or cuda. Default: cpu; under accelerate launch "
        "with several processes, each process's own GPU (give cpu to run them on the CPU)."
    )  # fmt: skip
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)
    return parser.parse_args(args)


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    with labelling_processes(cpu=arguments.device == "cpu") as processes:
        try:
            label_to_output(
                processes, arguments.model, texts=arguments.texts, input_path=arguments.input,
                input_format=arguments.input_format, column=arguments.column, output=arguments.output,
                output_format=arguments.output_format, device=arguments.device, backend=arguments.backend,
                top_k=arguments.top_k, batch_size=arguments.batch_size, chunk_overlap=arguments.chunk_overlap,
                rows_in_memory=arguments.rows_in_memory,
            )  # fmt: skip
        except InputError as error:  # the input's fault, found alike by every process: the main process says it
            sys.exit(f"error: {error}" if processes.is_main_process else 1)
        except (ValueError, OSError) as error:  # SourceError (the model) is a ValueError
            sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()

"""Label movie reviews with a saved model folder and write JSONL or CSV records with labels and scores.

    python scripts/predict.py --model outputs/lstm-imdb "A wonderful film." "Dull and far too long."
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.txt             # one review per line
    python scripts/predict.py --model outputs/lstm-imdb --input reviews.csv --column review --output labels.csv
    cat reviews.jsonl | python scripts/predict.py --model outputs/lstm-imdb --input_format jsonl --top_k 2
    python scripts/predict.py --model outputs/lstm-imdb --backend onnx "A wonderful film."   # ONNX Runtime, no torch

Reviews longer than the model's `model_max_length` tokens are truncated, or, with `--chunk_overlap N`, split into
overlapping windows whose scores are averaged. Output rows follow the input rows in order.

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
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from itertools import chain
from pathlib import Path
from typing import IO

from tqdm.auto import tqdm

from trainers.inference import (
    BACKEND_HELP,
    BACKENDS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    InputError,
    check_reviews,
    check_top_k,
    format_from_suffix,
    iter_reviews,
    load_predictor,
    read_reviews,
    write_records,
)
from trainers.labelling import LabellingProcesses, label_in_chunks, labelling_processes, share_error
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


def review_source(arguments: argparse.Namespace) -> Callable[[], Iterable[str]]:
    """What gives the reviews, each call from the first: files are streamed (read twice: once to check every row
    and count them before any is labelled, once to label them); arguments and standard input are held whole."""
    if arguments.texts and arguments.input:
        raise InputError("Give reviews either as arguments or with --input, not both.")
    if arguments.texts:
        check_reviews(arguments.texts, "the arguments")
        return lambda: arguments.texts
    source = arguments.input or "-"
    input_format = arguments.input_format or format_from_suffix(source, INPUT_FORMATS, default="text")
    if source != "-":
        return partial(stream_file, source, input_format, arguments.column)
    if sys.stdin.isatty():
        raise InputError("No reviews: give them as arguments, with --input, or on standard input.")
    try:
        texts = read_reviews(sys.stdin, input_format, arguments.column, "standard input")
    except UnicodeDecodeError as error:  # when standard input's locale decodes strictly
        raise not_utf8("Standard input", error) from error
    return lambda: texts


def stream_file(path: str, input_format: str, column: str) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            yield from iter_reviews(stream, input_format, column, path)
    except (FileNotFoundError, IsADirectoryError) as error:
        raise InputError(f"Cannot read --input '{path}': {error.strerror}.") from error
    except UnicodeDecodeError as error:
        raise not_utf8(f"'{path}'", error) from error


def not_utf8(name: str, error: UnicodeDecodeError) -> InputError:
    return InputError(f"{name} is not UTF-8 text: {error.reason} at byte {error.start}.")


@contextmanager
def output_stream(path: str | None) -> Iterator[IO[str]]:
    """Standard output, or a file written whole or not at all: the records go to PATH.partial, renamed PATH at the
    end, so that a run stopped by an error leaves no file that looks complete."""
    if path in (None, "-"):
        yield sys.stdout
        return
    partial_file = Path(f"{path}.partial")
    try:
        with open(partial_file, "w", newline="") as stream:
            yield stream
        partial_file.replace(path)
    finally:
        partial_file.unlink(missing_ok=True)


def run_device(requested: str | None, processes: LabellingProcesses) -> str:
    """--device if given; else each process's own device under a multi-process launch, and the CPU alone."""
    launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if launched_processes > processes.num_processes:
        raise InputError(
            f"{launched_processes} processes were launched but no GPU was found for them: add --device cpu to run "
            "them on the CPU (over gloo)."
        )
    if requested is not None:
        return requested
    return str(processes.state.device) if processes.num_processes > 1 else "cpu"


def label(arguments: argparse.Namespace, processes: LabellingProcesses) -> None:
    device = run_device(arguments.device, processes)
    output_format = arguments.output_format or format_from_suffix(arguments.output, OUTPUT_FORMATS, "jsonl")
    reviews, total, input_error = None, 0, None
    if processes.is_main_process:  # the only process that reads the input: it sends the others their shares
        try:
            reviews = review_source(arguments)
            total = sum(1 for _ in reviews())  # every row checked, before the model is even loaded
        except InputError as error:
            input_error = error
    share_error(input_error, processes)
    predictor = load_predictor("model", arguments.model, device, arguments.backend)
    check_top_k(arguments.top_k, predictor.labels)
    show_progress = processes.is_main_process and total >= PROGRESS_BAR_MIN_REVIEWS
    with (
        tqdm(total=total, unit="review", disable=not show_progress, file=sys.stderr) as progress,
        output_stream(arguments.output) if processes.is_main_process else nullcontext() as stream,
    ):
        chunks = label_in_chunks(
            processes,
            predictor,
            iter(reviews()) if processes.is_main_process else None,
            arguments.rows_in_memory,
            arguments.batch_size,
            arguments.top_k,
            arguments.chunk_overlap,
            progress,
        )
        records = chain.from_iterable(chunks)
        if processes.is_main_process:
            write_records(records, stream, output_format)
        else:
            deque(records, maxlen=0)  # label this process's shares; the main process writes


def main(args: list[str] | None = None) -> None:
    arguments = parse_arguments(args)
    setup_logging()
    processes = labelling_processes(cpu=arguments.device == "cpu")
    try:
        label(arguments, processes)
    except InputError as error:  # the input's fault, found alike by every process: the main process says it
        sys.exit(f"error: {error}" if processes.is_main_process else 1)
    except (ValueError, OSError) as error:  # SourceError (the model) is a ValueError
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()

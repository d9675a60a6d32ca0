"""Where reviews to label come from and where their records go: arguments, files streamed a block at a time, standard
input, and an output file written whole or not at all (`scripts/predict.py`)."""

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

from .predictor import INPUT_FORMATS, InputError, check_reviews, format_from_suffix, iter_reviews, read_reviews


def review_source(
    texts: Sequence[str], input_path: str | None, input_format: str | None, column: str
) -> Callable[[], Iterable[str]]:
    """What gives the reviews, each call from the first: `texts` given as arguments, else the file `input_path`
    (streamed, so read twice: once to check every row and count them before any is labelled, once to label them),
    else standard input (`-` or no path; held whole)."""
    if texts and input_path:
        raise InputError("Give reviews either as arguments or with --input, not both.")
    if texts:
        check_reviews(texts, "the arguments")
        return lambda: texts
    source = input_path or "-"
    input_format = input_format or format_from_suffix(source, INPUT_FORMATS, default="text")
    if source != "-":
        return partial(stream_file, source, input_format, column)
    if sys.stdin.isatty():
        raise InputError("No reviews: give them as arguments, with --input, or on standard input.")
    try:
        reviews = read_reviews(sys.stdin, input_format, column, "standard input")
    except UnicodeDecodeError as error:  # when standard input's locale decodes strictly
        raise not_utf8("Standard input", error) from error
    return lambda: reviews


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

"""Labelling inputs of any size, in one process or several (`accelerate launch`): what `scripts/predict.py` runs.

The main process reads the reviews and sends them to every process a chunk at a time; process i of n labels the
chunk's rows i, i + n, i + 2n... (an even share of long and short reviews), and the main process gathers the
records and yields them in input order. Only one chunk is held in memory, and only the main process reads the
input, so with several machines the input need only be on the first. An error in the input or in one process's
share stops every process with the same `InputError`, instead of leaving the others waiting for it.

With one process, the chunks are labelled exactly as `SentimentPredictor.predict_probabilities` labels any list.
"""

import os
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from itertools import chain, islice

from tqdm.auto import tqdm

from .predictor import (
    OUTPUT_FORMATS,
    SAVED_READING,
    InputError,
    SentimentPredictor,
    UnencodableReviewError,
    check_top_k,
    format_from_suffix,
    load_predictor,
    prediction_records,
    write_records,
)
from .review_files import output_stream, review_source

# Below this many reviews the run is over too soon for a progress bar to help.
PROGRESS_BAR_MIN_REVIEWS = 256


class LabellingProcesses:
    """The processes labelling together: those of `accelerate launch` (`state`, accelerate's `PartialState`), or
    this process alone (`state` None), which then needs neither accelerate nor PyTorch: the ONNX Runtime backend
    runs without them."""

    def __init__(self, state=None):
        self.state = state

    @property
    def is_main_process(self) -> bool:
        return self.state is None or self.state.is_main_process

    @property
    def num_processes(self) -> int:
        return 1 if self.state is None else self.state.num_processes

    @property
    def process_index(self) -> int:
        return 0 if self.state is None else self.state.process_index

    def broadcast(self, objects: list) -> list:
        """The main process's `objects`, on every process."""
        if self.state is None:
            return objects
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list(objects)

    def gather(self, objects: list) -> list:
        """Every process's `objects`, concatenated in process order, on every process."""
        if self.state is None:
            return objects
        from accelerate.utils import gather_object

        return gather_object(objects)

    def __enter__(self) -> "LabellingProcesses":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Ends the process group, together after a run that went well: left to the interpreter's exit, one
        process's communication threads can still be running while another's are torn down, which aborts it
        (SIGABRT) after the work is done. After an error the others may never reach a barrier: no waiting then."""
        if self.state is None or self.state.num_processes == 1:
            return
        if error_type is None:
            self.state.wait_for_everyone()
        self.state.destroy_process_group()


def labelling_processes(cpu: bool) -> LabellingProcesses:
    """This process alone, unless a launcher started several (`WORLD_SIZE`): then accelerate's, on the CPU if
    `cpu`."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return LabellingProcesses()
    from accelerate import PartialState

    return LabellingProcesses(PartialState(cpu=cpu))


def share_error(error: InputError | None, processes: LabellingProcesses) -> None:
    """Raises the main process's `error` (or nothing, if it met none) on every process."""
    (message,) = processes.broadcast([str(error) if error is not None else None])
    if message is not None:
        raise error if error is not None else InputError(message)


def label_in_chunks(
    processes: LabellingProcesses,
    predictor: SentimentPredictor,
    reviews: Iterator[str] | None,
    chunk_rows: int,
    batch_size: int = 32,
    top_k: int = 1,
    chunk_overlap: int | None | str = SAVED_READING,
    progress: tqdm | None = None,
) -> Iterator[list[dict]]:
    """The records (see `prediction_records`) of each chunk of `chunk_rows` reviews, in input order, gathered on
    every process (the main process writes them). Every process must call it and run it to the end; only the main
    process's `reviews` are read (the others pass None), and its `progress` bar counts every process's reviews."""
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    first_row = 0
    while True:
        chunk, read_error = [], None
        if processes.is_main_process:
            try:
                chunk = list(islice(reviews, chunk_rows))
            except InputError as error:
                read_error = error
        share_error(read_error, processes)
        (chunk,) = processes.broadcast([chunk])
        if not chunk:
            return
        rows = range(processes.process_index, len(chunk), processes.num_processes)
        records, label_error = [], None
        try:
            probabilities = predictor.predict_probabilities(
                [chunk[row] for row in rows], batch_size, chunk_overlap=chunk_overlap, progress=progress
            )
            records = prediction_records(probabilities, predictor.labels, top_k)
        except UnencodableReviewError as error:  # numbered within this process's share: name the input's row
            label_error = f"Review {first_row + rows[error.index] + 1} cannot be tokenized ({error.reason})."
        except InputError as error:
            label_error = str(error)
        # One entry per process, in process order: [(error, records of rows p, p + n, ...), ...].
        outcomes = processes.gather([(label_error, records)])
        errors = [error for error, _ in outcomes if error is not None]
        if errors:
            raise InputError(errors[0])
        in_order = [None] * len(chunk)
        for process_index, (_, process_records) in enumerate(outcomes):
            in_order[process_index :: processes.num_processes] = process_records
        if progress is not None:
            progress.update(len(chunk) - len(rows))  # the other processes' rows; this one's advanced the bar already
        first_row += len(chunk)
        yield in_order


def run_device(requested: str | None, processes: LabellingProcesses) -> str:
    """`requested` if given; else each process's own device under a multi-process launch, and the CPU alone."""
    launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if launched_processes > processes.num_processes:
        raise InputError(
            f"{launched_processes} processes were launched but no GPU was found for them: add --device cpu to run "
            "them on the CPU (over gloo)."
        )
    if requested is not None:
        return requested
    return str(processes.state.device) if processes.num_processes > 1 else "cpu"


def label_to_output(
    processes: LabellingProcesses,
    model: str,
    *,
    texts: Sequence[str] = (),
    input_path: str | None = None,
    input_format: str | None = None,
    column: str = "text",
    output: str | None = None,
    output_format: str | None = None,
    device: str | None = None,
    backend: str = "torch",
    top_k: int = 1,
    batch_size: int = 32,
    chunk_overlap: int | None | str = SAVED_READING,
    rows_in_memory: int = 10_000,
) -> None:
    """Labels reviews with the model folder or Hub id `model` and writes one record per review, in input order, to
    `output` (standard output if None). The reviews are `texts`, else the file `input_path`, else standard input
    (`review_source`); only the main process reads them, and checks every row before the model is even loaded. An
    input error stops every process."""
    device = run_device(device, processes)
    output_format = output_format or format_from_suffix(output, OUTPUT_FORMATS, "jsonl")
    total, input_error = 0, None
    reviews = None
    if processes.is_main_process:  # the only process that reads the input: it sends the others their shares
        try:
            reviews = review_source(texts, input_path, input_format, column)
            total = sum(1 for _ in reviews())
        except InputError as error:
            input_error = error
    share_error(input_error, processes)
    predictor = load_predictor("model", model, device, backend)
    check_top_k(top_k, predictor.labels)
    show_progress = processes.is_main_process and total >= PROGRESS_BAR_MIN_REVIEWS
    with (
        tqdm(total=total, unit="review", disable=not show_progress, file=sys.stderr) as progress,
        output_stream(output) if processes.is_main_process else nullcontext() as stream,
    ):
        rows = iter(reviews()) if processes.is_main_process else None
        chunks = label_in_chunks(
            processes, predictor, rows, rows_in_memory, batch_size, top_k, chunk_overlap, progress
        )
        records = chain.from_iterable(chunks)
        if processes.is_main_process:
            write_records(records, stream, output_format)
        else:
            deque(records, maxlen=0)  # label this process's shares; the main process writes

"""How every script logs: progress and status messages go to stderr through `logging`, so that stdout holds only
the script's output (a results table, JSON, predictions). Setting this up is the first thing every script does once
its modules are imported, so it is also where their objects leave garbage collection."""

import gc
import logging
from typing import TYPE_CHECKING

import datasets
import transformers

if TYPE_CHECKING:  # importing it imports torch, which the ONNX backend's scripts never load
    from transformers import TrainingArguments

# The project's loggers: its modules' (`get_logger(__name__)`), and a script's own, named `__main__` when run.
PROJECT_LOGGERS = ("inference", "trainers", "evaluation", "model_cards", "scripts", "__main__")


def setup_logging(args: "TrainingArguments | None" = None) -> None:
    """Sends the project's log messages to stderr, at info.

    A training script passes its arguments: under `accelerate launch`, only the main process then logs at info, the
    others at warning (`--log_level` and `--log_level_replica` change either), and transformers logs at the same
    level, as in transformers' examples. The other scripts run one process and leave transformers at its default
    (warning), which keeps model-loading details out of their output. datasets stays at warning everywhere: at info
    it reports each cache file it reads, and would turn the one-line error of a script stopped after loading the data
    into many.

    Called once the script's modules are imported, it also takes everything they made out of garbage collection.
    """
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%m/%d/%Y %H:%M:%S")
    # datasets logs through a handler of its own: reaching the root logger too, its messages would show twice.
    datasets.utils.logging.disable_propagation()
    level = logging.INFO
    if args is not None:
        if args.should_log:
            # The default `log_level` ("passive") keeps transformers' level: make that info on the main process.
            transformers.utils.logging.set_verbosity_info()
        level = args.get_process_log_level()
        transformers.utils.logging.set_verbosity(level)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)
    # What the imports made (about a million objects with torch and transformers) lives as long as the process: kept
    # out of the garbage collector, it no longer slows each later collection, and the process exits a second sooner.
    gc.freeze()

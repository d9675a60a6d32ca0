"""What every training script does first (checks that the run can be finished and published, data) and last (the
hard cases scored, the model card, the folder completed, the Hub)."""

import json
import sys
from pathlib import Path

from datasets import Dataset, DatasetDict
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainingArguments
from transformers.utils import logging

from evaluation.report import hard_case_summary, load_minimal_pairs, load_tricky_reviews, percent, score_hard_cases
from inference.predictor import load_predictor
from trainers.arguments import DataArguments, SentimentTrainingArguments
from trainers.run import load_splits
from trainers.run_folder import complete_run_folder, read_run, unfinished_folder, write_results
from trainers.training import build_trainer, resolve_checkpoint, train_and_evaluate

from .card_descriptions import is_pretraining
from .hub import HubAccessError, claim_push, publish_run
from .model_card import dataset_hub_id, write_model_card

logger = logging.get_logger(__name__)


def start_run(data_args: DataArguments, args: TrainingArguments, recipe: dict) -> tuple[DatasetDict, bool]:
    """`check_run`, then seeds and loads the splits, exiting with a one-line message if the dataset is missing or
    unusable.

    Returns the splits and whether the script must publish the folder at the end.
    """
    push_to_hub = check_run(args, recipe)
    try:
        return load_splits(data_args, args), push_to_hub
    except ValueError as error:  # a dataset that is missing or unusable, or a subset larger than its split
        sys.exit(f"error: {error}")


def check_run(args: TrainingArguments, recipe: dict) -> bool:
    """Checks what would otherwise fail only after training (the model card must name the dataset; the Hub must
    accept the push, if asked; the checkpoint to resume from must exist, see `resolve_checkpoint`), exiting with a
    message if not. Returns whether the script must publish the folder at the end."""
    try:
        dataset_hub_id(recipe)
        resolve_checkpoint(args)
        return claim_push(args)
    except (ValueError, HubAccessError) as error:
        sys.exit(f"error: {error}")


def train_and_finish(
    model: PreTrainedModel,
    args: SentimentTrainingArguments,
    tokenized: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    recipe: dict,
    push_to_hub: bool,
    unlabeled: Dataset | None = None,
    extra_results: dict | None = None,
) -> dict:
    """Trains `model` on tokenized reviews (and `unlabeled` ones, if its loss reads them), evaluates, saves the
    folder (its results with `extra_results`, what the run measured before training) and, on the main process,
    `finish_run`."""
    trainer = build_trainer(
        model, args, tokenized, tokenizer, args.early_stopping_patience, unlabeled_dataset=unlabeled
    )
    results = train_and_evaluate(trainer, tokenized, recipe, extra_results)
    if trainer.is_world_process_zero():
        finish_run(args, results, push_to_hub)
    return results


def finish_run(args: TrainingArguments, results: dict, push_to_hub: bool) -> None:
    """What a training script does last, on the main process: scores the saved classifier on the hard cases
    (`score_saved_hard_cases`, added to `results`), writes the model card, completes the folder (see
    `complete_run_folder`), prints the results, logs the folder, and publishes the folder if asked (exiting with a
    message, the folder kept, if the Hub refuses)."""
    results.update(score_saved_hard_cases(unfinished_folder(args.output_dir), str(args.device)))
    # Named after the folder it becomes (or the Hub repository), not the unfinished one it is written in.
    write_model_card(
        unfinished_folder(args.output_dir), repo_id=args.hub_model_id or Path(args.output_dir).resolve().name
    )
    complete_run_folder(args.output_dir)
    print(json.dumps(results, indent=2, sort_keys=True))
    logger.info(f"Model folder: {args.output_dir}")
    if push_to_hub:
        try:
            logger.info(f"Published: {publish_run(args)}")
        except HubAccessError as error:
            sys.exit(f"error: {error}\nThe model folder is saved; publish it with scripts/push_to_hub.py.")


def score_saved_hard_cases(folder: Path, device: str) -> dict:
    """The tricky reviews and the minimal pairs scored by the classifier saved in `folder`, loaded as its users load
    it, their figures (`hard_case_summary`) added to the folder's `all_results.json`, for the model card. Nothing for
    a pretraining folder, or for a model whose classes are not negative and positive."""
    config, results, _ = read_run(folder)
    if is_pretraining(config):
        return {}
    predictor = load_predictor("model", str(folder), device)
    tricky, pairs = load_tricky_reviews(), load_minimal_pairs()
    scored = score_hard_cases(predictor.predict_probabilities, predictor.labels, tricky, pairs)
    summary = hard_case_summary(scored)
    if summary:
        write_results(folder, {**results, **summary})
        logger.info(
            f"Tricky reviews: {percent(summary['tricky_reviews']['accuracy'])} right; minimal pairs: "
            f"{percent(summary['minimal_pairs']['consistency'])} both right"
        )
    return summary

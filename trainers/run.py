"""What every training script does first (checks, seed, data) and last (model card, results, publishing)."""

import json
import sys

from datasets import DatasetDict
from transformers import TrainingArguments, set_seed

from .arguments import DataArguments
from .data import load_sentiment_splits
from .hub import HubAccessError, claim_push, publish_run
from .model_card import dataset_hub_id, write_model_card


def start_run(data_args: DataArguments, args: TrainingArguments, recipe: dict) -> tuple[DatasetDict, bool]:
    """Checks what would otherwise fail only after training (the model card must name the dataset; the Hub must
    accept the push, if asked), exiting with a message if not; then seeds and loads the splits.

    Returns the splits and whether the script must publish the folder at the end.
    """
    try:
        dataset_hub_id(recipe)
        push_to_hub = claim_push(args)
    except (ValueError, HubAccessError) as error:
        sys.exit(f"error: {error}")
    set_seed(args.seed)
    splits = load_sentiment_splits(
        data_args.dataset_name,
        validation_fraction=data_args.validation_fraction,
        seed=args.seed,
        max_train_samples=data_args.max_train_samples,
        max_test_samples=data_args.max_test_samples,
    )
    return splits, push_to_hub


def finish_run(args: TrainingArguments, results: dict, push_to_hub: bool) -> None:
    """What a training script does last, on the main process: writes the model card, prints the results and the
    folder, and publishes the folder if asked (exiting with a message, the folder kept, if the Hub refuses)."""
    write_model_card(args.output_dir, repo_id=args.hub_model_id)
    print(json.dumps(results, indent=2, sort_keys=True))
    print(f"Model folder: {args.output_dir}")
    if push_to_hub:
        try:
            print(f"Published: {publish_run(args)}")
        except HubAccessError as error:
            sys.exit(f"error: {error}\nThe model folder is saved; publish it with scripts/push_to_hub.py.")

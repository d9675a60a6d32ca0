"""Train the LSTM sentiment classifier and write a Hub-ready model folder, with its model card.

    python scripts/train.py configs/lstm.yaml [--key value ...]
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/train.py configs/lstm.yaml

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data, model hyperparameters (from `LSTMSentimentConfig`) and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

import dataclasses
import json
import sys

from transformers import set_seed

from models import LSTMForSequenceClassification, LSTMSentimentConfig
from trainers.arguments import DataArguments, SentimentTrainingArguments, config_arguments, parse_recipe
from trainers.data import load_sentiment_splits
from trainers.hub import HubAccessError, check_hub_access, publish
from trainers.model_card import dataset_hub_id, write_model_card
from trainers.tokenizer import train_word_tokenizer
from trainers.training import build_tokenizer_once, build_trainer, tokenize_splits, train_and_evaluate

LSTMArguments = config_arguments(LSTMSentimentConfig, exclude=("pad_token_id",))


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, training_args, recipe = parse_recipe(
        (DataArguments, LSTMArguments, SentimentTrainingArguments), args
    )
    try:
        dataset_hub_id(recipe)  # fails now, not after training, if the model card could not name the dataset
    except ValueError as error:
        sys.exit(f"error: {error}")
    # The Trainer's own push would upload every checkpoint with a generic card; we publish the final folder.
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False
    if push_to_hub and not training_args.hub_model_id:
        sys.exit("error: --push_to_hub needs --hub_model_id, the repository to publish to (e.g. user/imdb-lstm).")
    if push_to_hub and training_args.process_index == 0:
        try:  # a missing or refused token, or no network, stops the run before training, not after
            check_hub_access(training_args.hub_token)
        except HubAccessError as error:
            sys.exit(f"error: {error}")

    set_seed(training_args.seed)
    splits = load_sentiment_splits(
        data_args.dataset_name,
        validation_fraction=data_args.validation_fraction,
        seed=training_args.seed,
        max_train_samples=data_args.max_train_samples,
        max_test_samples=data_args.max_test_samples,
    )
    tokenizer = build_tokenizer_once(
        training_args,
        lambda: train_word_tokenizer(
            splits["train"]["text"], model_args.vocab_size, data_args.min_frequency, data_args.max_length
        ),
    )
    tokenized = tokenize_splits(splits, tokenizer, training_args)
    # The vocabulary learned may be smaller than the maximum asked for; the embedding matrix matches it exactly.
    hyperparameters = {**dataclasses.asdict(model_args), "vocab_size": len(tokenizer)}
    model = LSTMForSequenceClassification(LSTMSentimentConfig(**hyperparameters, pad_token_id=tokenizer.pad_token_id))

    trainer = build_trainer(model, training_args, tokenized, tokenizer, training_args.early_stopping_patience)
    results = train_and_evaluate(trainer, tokenized, recipe)
    if trainer.is_world_process_zero():
        repo_id = training_args.hub_model_id
        write_model_card(training_args.output_dir, repo_id=repo_id)
        print(json.dumps(results, indent=2, sort_keys=True))
        print(f"Model folder: {training_args.output_dir}")
        if push_to_hub:
            try:
                url = publish(training_args.output_dir, repo_id, private=training_args.hub_private_repo,
                              token=training_args.hub_token, revision=training_args.hub_revision)  # fmt: skip
            except HubAccessError as error:
                sys.exit(f"error: {error}\nThe model folder is saved; publish it with scripts/push_to_hub.py.")
            print(f"Published: {url}")
    return results


if __name__ == "__main__":
    main()

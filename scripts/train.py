"""Train the LSTM sentiment classifier and write a Hub-ready model folder, with its model card.

    python scripts/train.py configs/lstm.yaml [--key value ...]
    python scripts/train.py configs/lstm_pretrained.yaml --pretrained_model_name_or_path FOLDER   # from pretraining
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/train.py configs/lstm.yaml

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data, model hyperparameters (from `LSTMSentimentConfig`) and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

import sys

from model_cards.publishing import start_run, train_and_finish
from trainers.approaches import approach_of, arguments_by_class, parse_run_arguments
from trainers.run import unlabeled_reviews_for
from trainers.script_logging import setup_logging
from trainers.training import tokenize_splits


def main(args: list[str] | None = None) -> dict:
    *arguments, recipe = parse_run_arguments("lstm", args)  # lstm_pretrained, given a pretrained folder
    data_args, _, _, _, training_args = arguments
    setup_logging(training_args)
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    try:
        models = approach_of(recipe).build_models(arguments_by_class(arguments), recipe, splits)
        model = models.build({})
    except ValueError as error:
        sys.exit(f"error: {error}")
    tokenized = tokenize_splits(splits, models.tokenizer, training_args)
    unlabeled = unlabeled_reviews_for(model.config, data_args, models.tokenizer, training_args)
    return train_and_finish(model, training_args, tokenized, models.tokenizer, recipe, push_to_hub, unlabeled)


if __name__ == "__main__":
    main()

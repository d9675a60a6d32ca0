"""Train the LSTM sentiment classifier and write a Hub-ready model folder, with its model card.

    python scripts/train.py configs/lstm.yaml [--key value ...]
    python scripts/train.py configs/lstm_pretrained.yaml --pretrained_model_name_or_path FOLDER   # from pretraining
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/train.py configs/lstm.yaml

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data, model hyperparameters (from `LSTMSentimentConfig`) and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

import sys

from trainers.approaches import parse_run_arguments
from trainers.builders import (
    lstm_builder,
    pretrained_lstm_builder,
    pretrained_lstm_tokenizer,
    word_tokenizer,
)
from trainers.data import class_names
from trainers.run import start_run, train_and_finish, unlabeled_reviews_for
from trainers.script_logging import setup_logging
from trainers.training import tokenize_splits


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, pretrained_args, _, training_args, recipe = parse_run_arguments("lstm", args)
    setup_logging(training_args)
    pretrained = pretrained_args.pretrained_model_name_or_path
    if pretrained:
        recipe["approach"] = "lstm_pretrained"
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    if pretrained:
        tokenizer = pretrained_lstm_tokenizer(pretrained, data_args)
        try:
            model = pretrained_lstm_builder(
                pretrained, model_args, recipe, class_names(splits), pretrained_args.pretrained_layers
            )({})
        except ValueError as error:
            sys.exit(f"error: {error}")
    else:
        tokenizer = word_tokenizer(
            splits["train"]["text"],
            data_args,
            model_args.vocab_size,
            training_args,
            data_args.truncation,
            data_args.head_tokens,
        )
        model = lstm_builder(model_args, tokenizer, class_names(splits))({})
    tokenized = tokenize_splits(splits, tokenizer, training_args)
    unlabeled = unlabeled_reviews_for(model.config, data_args, tokenizer, training_args)
    return train_and_finish(model, training_args, tokenized, tokenizer, recipe, push_to_hub, unlabeled)


if __name__ == "__main__":
    main()

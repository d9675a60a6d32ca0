"""Train the LSTM sentiment classifier and write a Hub-ready model folder, with its model card.

    python scripts/train.py configs/lstm.yaml [--key value ...]
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/train.py configs/lstm.yaml

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data, model hyperparameters (from `LSTMSentimentConfig`) and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

import dataclasses

from models import LSTMForSequenceClassification, LSTMSentimentConfig
from trainers.arguments import DataArguments, SentimentTrainingArguments, config_arguments, parse_recipe
from trainers.run import finish_run, start_run
from trainers.tokenizer import train_word_tokenizer
from trainers.training import build_tokenizer_once, build_trainer, tokenize_splits, train_and_evaluate

LSTMArguments = config_arguments(LSTMSentimentConfig, exclude=("pad_token_id",))


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, training_args, recipe = parse_recipe(
        (DataArguments, LSTMArguments, SentimentTrainingArguments), args
    )
    splits, push_to_hub = start_run(data_args, training_args, recipe)
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
        finish_run(training_args, results, push_to_hub)
    return results


if __name__ == "__main__":
    main()

"""Train the LSTM sentiment classifier and write a Hub-ready model folder, with its model card.

    python scripts/train.py configs/lstm.yaml [--key value ...]
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/train.py configs/lstm.yaml

The recipe (YAML) sets every argument; `--key value` overrides it, e.g. `--dataset_name path/to/imdb`.
`--help` lists all arguments: data, model hyperparameters (from `LSTMSentimentConfig`) and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

from trainers.arguments import DataArguments, SentimentTrainingArguments, parse_recipe
from trainers.builders import LSTMArguments, lstm_builder, lstm_tokenizer
from trainers.run import finish_run, start_run
from trainers.training import build_trainer, tokenize_splits, train_and_evaluate


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, training_args, recipe = parse_recipe(
        (DataArguments, LSTMArguments, SentimentTrainingArguments), args
    )
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    tokenizer = lstm_tokenizer(splits, data_args, model_args.vocab_size, training_args)
    tokenized = tokenize_splits(splits, tokenizer, training_args, head_tokens=data_args.head_tokens)
    model = lstm_builder(model_args, tokenizer)({})

    trainer = build_trainer(model, training_args, tokenized, tokenizer, training_args.early_stopping_patience)
    results = train_and_evaluate(trainer, tokenized, recipe)
    if trainer.is_world_process_zero():
        finish_run(training_args, results, push_to_hub)
    return results


if __name__ == "__main__":
    main()

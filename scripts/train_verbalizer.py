"""Train a verbalizer head over a frozen pretrained encoder and write a Hub-ready model folder, with its model card.

    python scripts/train_verbalizer.py configs/verbalizer.yaml [--key value ...]
    python scripts/train_verbalizer.py configs/verbalizer_minilm.yaml --encoder_name_or_path path/to/all-MiniLM-L6-v2

Each split is encoded once by the frozen encoder (reviews followed by the template) and the features are cached by
`datasets`; the head is trained on them through `Trainer`, and the saved folder holds the whole model (encoder and
head) with a tokenizer that appends the template, so it labels raw text in `pipeline("sentiment-analysis")`.
`--help` lists all arguments: data, the model (from `VerbalizerConfig`), encoding and `TrainingArguments`.
With `--push_to_hub --hub_model_id user/name`, the folder is published at the end (see scripts/push_to_hub.py).
"""

import dataclasses
import sys

from transformers import default_data_collator

from inference.sources import check_model_folder
from model_cards.publishing import finish_run, start_run
from trainers.approaches import parse_run_arguments
from trainers.data import class_names, label_config
from trainers.features import build_verbalizer, encode_splits
from trainers.script_logging import setup_logging
from trainers.training import build_trainer, train_and_evaluate


def main(args: list[str] | None = None) -> dict:
    data_args, model_args, encoding_args, _, training_args, recipe = parse_run_arguments("verbalizer", args)
    setup_logging(training_args)
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    try:
        check_model_folder(model_args.encoder_name_or_path)
        hyperparameters = {
            **dataclasses.asdict(model_args),
            **label_config(class_names(splits)),
            "truncation": data_args.truncation,
        }
        if data_args.head_tokens is not None:
            hyperparameters["head_tokens"] = data_args.head_tokens
        model, tokenizer = build_verbalizer(hyperparameters, data_args.max_length)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    features, encoding_results = encode_splits(
        splits, model, tokenizer, encoding_args.encoding_batch_size, training_args
    )

    trainer = build_trainer(
        model,
        training_args,
        features,
        tokenizer,
        training_args.early_stopping_patience,
        data_collator=default_data_collator,
    )
    if model.config.head_type == "mlm":  # the label words classify before any training
        encoding_results.update(trainer.evaluate(metric_key_prefix="zero_shot_eval"))
    results = train_and_evaluate(trainer, features, recipe, extra_results=encoding_results)
    if trainer.is_world_process_zero():
        finish_run(training_args, results, push_to_hub)
    return results


if __name__ == "__main__":
    main()

"""Fine-tune a pretrained encoder end to end for sentiment and write a Hub-ready model folder, with its model card.

    python scripts/finetune.py configs/finetune/modernbert.yaml [--key value ...]
    python scripts/finetune.py configs/finetune/bert.yaml configs/finetune/presets/balanced.yaml
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/finetune.py configs/finetune/bert.yaml

Any `AutoModelForSequenceClassification` backbone works (`--model_name_or_path`: a Hub id or a local folder). Later
recipes override earlier ones, and `--key value` overrides them all. Long reviews keep their head and tail
(`head_tokens`). Mixed precision (`bf16`/`fp16`), `gradient_accumulation_steps` and `gradient_checkpointing` are
training arguments like any other. `--help` lists all arguments.
"""

import sys

from inference.sources import SourceError, not_found
from model_cards.publishing import start_run, train_and_finish
from trainers.approaches import approach_of, arguments_by_class, parse_run_arguments
from trainers.script_logging import setup_logging
from trainers.training import tokenize_splits


def main(args: list[str] | None = None) -> dict:
    *arguments, recipe = parse_run_arguments("finetune", args)
    data_args, encoder_args, _, training_args = arguments
    setup_logging(training_args)
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    try:
        models = approach_of(recipe).build_models(arguments_by_class(arguments), recipe, splits)
        model = models.build({})
    except SourceError as error:
        sys.exit(f"error: {error}")
    except (OSError, ValueError) as error:
        sys.exit(f"error: {not_found('encoder', encoder_args.model_name_or_path, error)}")
    tokenized = tokenize_splits(splits, models.tokenizer, training_args)
    return train_and_finish(model, training_args, tokenized, models.tokenizer, recipe, push_to_hub)


if __name__ == "__main__":
    main()

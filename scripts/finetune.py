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

from trainers.approaches import parse_run_arguments
from trainers.builders import encoder_builder, encoder_tokenizer
from trainers.data import class_names
from trainers.run import start_run, train_and_finish
from trainers.script_logging import setup_logging
from trainers.sources import SourceError, check_model_folder, not_found
from trainers.training import tokenize_splits


def main(args: list[str] | None = None) -> dict:
    data_args, encoder_args, _, training_args, recipe = parse_run_arguments("finetune", args)
    setup_logging(training_args)
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    try:
        check_model_folder(encoder_args.model_name_or_path)
        tokenizer = encoder_tokenizer(encoder_args.model_name_or_path, data_args)
        model = encoder_builder(encoder_args.model_name_or_path, class_names(splits))({})
    except SourceError as error:
        sys.exit(f"error: {error}")
    except (OSError, ValueError) as error:
        sys.exit(f"error: {not_found('encoder', encoder_args.model_name_or_path, error)}")
    tokenized = tokenize_splits(splits, tokenizer, training_args)
    return train_and_finish(model, training_args, tokenized, tokenizer, recipe, push_to_hub)


if __name__ == "__main__":
    main()

"""Search hyperparameters with Optuna through `Trainer.hyperparameter_search`, judged on validation accuracy.

    python scripts/search.py configs/search/lstm.yaml --dataset_name ../shared/data/imdb
    python scripts/search.py configs/search/lstm.yaml --storage journal:outputs/lstm-search/journal.log   # per worker

The recipe declares the search space (`search_space`), the base settings and the number of trials the study should
hold. The study is persistent (default: sqlite in output_dir): running the same command again continues it. Several
workers share one study through `--storage` (journal:PATH on one machine, an RDB URL such as postgresql://... across
machines); together they stop when the study holds `n_trials`. Weak trials are pruned after an epoch. At the end:
`best_recipe.yaml` (which scripts/train.py or scripts/finetune.py take as is), `study_summary.json` and plots.
"""

import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

from transformers import AutoConfig, TrainingArguments

from trainers.approaches import APPROACHES
from trainers.arguments import DataArguments, SentimentTrainingArguments, parse_recipe
from trainers.builders import encoder_builder, encoder_tokenizer, lstm_builder, word_tokenizer
from trainers.data import class_names
from trainers.run import load_splits
from trainers.script_logging import setup_logging
from trainers.search import (
    SearchArguments,
    export_best_recipe,
    model_init_for,
    open_storage,
    peek_approach,
    run_search,
    save_plots,
    split_search_space,
    summarize,
)
from trainers.training import build_trainer, tokenize_splits

# The approaches a search can tune; the second argument class of each is that of its model.
SEARCHABLE = ("lstm", "finetune")
# Fixed by the tokenizer, which is built once before the trials: not searchable.
TOKENIZER_BOUND = {"vocab_size"}


def argument_types(approach: str) -> tuple[type, ...]:
    """What a search of `approach` parses: the data, the approach's model arguments, the search's own, training."""
    return (DataArguments, APPROACHES[approach].argument_classes[1], SearchArguments, SentimentTrainingArguments)


def main(args: list[str] | None = None) -> dict:
    args = sys.argv[1:] if args is None else list(args)
    approach = peek_approach(args)
    if approach not in SEARCHABLE:
        sys.exit(f"error: approach must be one of {', '.join(SEARCHABLE)}, got '{approach}'.")
    data_args, model_args, search_args, training_args, recipe = parse_recipe(argument_types(approach), args)
    setup_logging(training_args)
    if training_args.world_size > 1:
        sys.exit(
            "error: the search runs its trials in one process; instead of `accelerate launch`, start several "
            "workers with the same --storage (journal:PATH on one machine, an RDB URL across machines)."
        )
    if training_args.resume_from_checkpoint is not None:
        sys.exit("error: a search resumes its study when run again on its storage; drop --resume_from_checkpoint.")
    splits = load_splits(data_args, training_args)
    splits.pop("test")  # the search never looks at the test split
    if approach == "lstm":
        tokenizer = word_tokenizer(
            splits["train"]["text"],
            data_args,
            model_args.vocab_size,
            training_args,
            data_args.truncation,
            data_args.head_tokens,
        )
        build, model_parameters = (
            lstm_builder(model_args, tokenizer, class_names(splits)),
            set(asdict(model_args)) - TOKENIZER_BOUND,
        )
    else:
        tokenizer = encoder_tokenizer(model_args.model_name_or_path, data_args)
        build = encoder_builder(model_args.model_name_or_path, class_names(splits))
        model_parameters = set(AutoConfig.from_pretrained(model_args.model_name_or_path).to_dict())
    try:
        training_space, model_space = split_search_space(
            search_args.search_space, {f.name for f in fields(TrainingArguments)}, model_parameters
        )
    except ValueError as error:
        sys.exit(f"error: {error}")
    tokenized = tokenize_splits(splits, tokenizer, training_args)

    trainer = build_trainer(None, training_args, tokenized, tokenizer, model_init=model_init_for(build, model_space))
    storage = open_storage(
        search_args.storage, training_args.output_dir, search_args.heartbeat_interval, search_args.grace_period
    )
    study_name = search_args.study_name or Path(training_args.output_dir).resolve().name
    study = run_search(trainer, training_space, search_args.n_trials, storage, study_name, search_args.pruner)

    output_dir = Path(training_args.output_dir)
    summary = summarize(study)
    export_best_recipe(study, recipe, output_dir / "best_recipe.yaml", str(output_dir / "best"))
    (output_dir / "study_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["plots"] = [str(path) for path in save_plots(study, output_dir)]
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()

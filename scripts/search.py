"""Search hyperparameters with Optuna through `Trainer.hyperparameter_search`, judged on validation accuracy.

    python scripts/search.py configs/search/lstm.yaml --dataset_name ../shared/data/imdb
    python scripts/search.py configs/search/lstm.yaml --storage journal:outputs/lstm-search/journal.log   # per worker

The recipe names the approach (`approach`: one the registry, trainers/approaches.py, can search; the LSTM with
`--pretrained_model_name_or_path` is lstm_pretrained, and reads the dataset's unlabeled reviews too if its recipe
learns from them, as configs/lstm_semi_supervised.yaml does), declares the search space (`search_space`), the base
settings and the number of trials the study should hold. The study is persistent (default: sqlite in output_dir): running the same command again continues it. Several
workers share one study through `--storage` (journal:PATH on one machine, an RDB URL such as postgresql://... across
machines); together they stop when the study holds `n_trials`. Weak trials are pruned after an epoch. At the end:
`best_recipe.yaml` (which the approach's training script takes as is), `study_summary.json` and plots.
"""

import json
import sys
from dataclasses import fields
from pathlib import Path

from transformers import TrainingArguments

from trainers.approaches import APPROACHES, arguments_by_class, run_approach
from trainers.arguments import SentimentTrainingArguments, parse_recipe
from trainers.run import load_splits, unlabeled_reviews_for
from trainers.script_logging import setup_logging
from trainers.search import (
    SEARCHABLE,
    SearchArguments,
    export_best_recipe,
    model_init_for,
    open_storage,
    peek_approach,
    run_search,
    save_plots,
    search_argument_classes,
    split_search_space,
    summarize,
)
from trainers.training import build_trainer, tokenize_splits


def main(args: list[str] | None = None) -> dict:
    args = sys.argv[1:] if args is None else list(args)
    name = peek_approach(args)
    if name not in SEARCHABLE:
        sys.exit(f"error: approach must be one of {', '.join(SEARCHABLE)}, got '{name}'.")
    *instances, recipe = parse_recipe(search_argument_classes(APPROACHES[name]), args)
    arguments = arguments_by_class(instances)
    search_args, training_args = arguments[SearchArguments], arguments[SentimentTrainingArguments]
    setup_logging(training_args)
    if training_args.world_size > 1:
        sys.exit(
            "error: the search runs its trials in one process; instead of `accelerate launch`, start several "
            "workers with the same --storage (journal:PATH on one machine, an RDB URL across machines)."
        )
    if training_args.resume_from_checkpoint is not None:
        sys.exit("error: a search resumes its study when run again on its storage; drop --resume_from_checkpoint.")
    approach = run_approach(name, recipe)
    data_args = arguments[approach.data_arguments]
    splits = load_splits(data_args, training_args)
    splits.pop("test")  # the search never looks at the test split
    try:
        models = approach.build_models(arguments, recipe, splits)
        training_space, model_space = split_search_space(
            search_args.search_space, {f.name for f in fields(TrainingArguments)}, models.hyperparameters
        )
    except ValueError as error:
        sys.exit(f"error: {error}")
    tokenized = tokenize_splits(splits, models.tokenizer, training_args)
    # The recipe's model (what `Trainer` builds first) says whether the trials read unlabeled reviews too.
    unlabeled = unlabeled_reviews_for(models.build({}).config, data_args, models.tokenizer, training_args)

    trainer = build_trainer(
        None,
        training_args,
        tokenized,
        models.tokenizer,
        model_init=model_init_for(models.build, model_space),
        unlabeled_dataset=unlabeled,
    )
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

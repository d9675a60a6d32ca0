"""Distil one or more teachers (any sentiment classifiers: model folders or Hub ids) into an LSTM, through the
training reviews and the dataset's unlabeled split, and write an ordinary LSTM model folder with its card.

    python scripts/distill.py configs/distill/minilm_teacher.yaml --dataset_name path/to/imdb
    python scripts/distill.py configs/distill/ensemble_teacher.yaml --teachers A B C [--teacher_weights .5 .3 .2]
    python scripts/distill.py configs/distill/minilm_nbsvm_teacher.yaml   # + an n-gram baseline (--baseline_teachers)
    python scripts/distill.py configs/distill/nbsvm_teacher.yaml          # the n-gram baseline alone
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml scripts/distill.py \
        configs/distill/modernbert_teacher.yaml

The teachers label the transfer set (the run's training reviews and, unless --transfer_unlabeled false, the unlabeled
split) and the validation reviews with their class probabilities; several are averaged with weights chosen on
validation (or --teacher_weights). `--baseline_teachers nbsvm` (or tfidf) adds an n-gram regression of
evaluation/baselines.py, fitted on the run's training reviews and labelling the transfer set in 2-3 minutes on IMDB,
as one more teacher (--baseline_teacher_folds 5: each training review labelled by a fit on the other folds). Labels
are cached beside the run (--teacher_labels_dir), resumable after a kill and never computed twice for the same
teachers and reviews; under `accelerate launch` the processes share the labelling. The student is the LSTM recipe the
config extends (its `base_recipe`: the default, the adversarial or the semi-supervised one, from word vectors when it
names them); its loss is the gold labels' cross-entropy where a review has one plus distillation_weight * T^2 *
KL(teacher || student) at temperature T = distillation_temperature on every review. A teacher must not have trained on
the run's validation reviews: one trained by this project on another split is refused (--split_seed gives the student
the teacher's split). `--help` lists every argument.
"""

import sys
from pathlib import Path

from datasets import DatasetDict

from evaluation.baselines import fit_baseline_teacher
from inference.labelling import labelling_processes
from model_cards.publishing import start_run, train_and_finish
from trainers.approaches import approach_of, arguments_by_class, parse_run_arguments
from trainers.data import class_names
from trainers.distillation import (
    check_teachers_never_trained_on,
    label_with_teachers,
    transfer_reviews,
    with_teacher_logits,
)
from trainers.run import unlabeled_reviews_for
from trainers.script_logging import setup_logging
from trainers.training import tokenize_splits


def main(args: list[str] | None = None) -> dict:
    try:
        *arguments, recipe = parse_run_arguments("lstm_distilled", args)
    except ValueError as error:  # e.g. no teacher named
        sys.exit(f"error: {error}")
    data_args, _, _, _, distillation, training_args = arguments
    setup_logging(training_args)
    if not recipe.get("distillation_weight"):
        sys.exit("error: distillation_weight is 0: the student would ignore its teachers; set it above 0.")
    splits, push_to_hub = start_run(data_args, training_args, recipe)
    cache = distillation.teacher_labels_dir or f"{Path(training_args.output_dir)}-teacher-labels"
    device = "cpu" if training_args.use_cpu else str(training_args.device)
    try:
        check_teachers_never_trained_on(distillation.teachers, data_args, splits)
        # The unlabeled reviews follow the split's seed: students that share a split share its labelled transfer set.
        transfer = transfer_reviews(
            splits,
            data_args,
            data_args.seed_of_split(training_args.seed),
            distillation.transfer_unlabeled,
            data_args.max_unlabeled_samples,
        )
        processes = labelling_processes(cpu=device == "cpu")
        # The n-gram teachers first: 2-3 minutes each on IMDB, and an unknown name fails before any long labelling.
        fitted = [
            fit_baseline_teacher(
                processes, name, transfer, splits["validation"], splits["test"], distillation.baseline_teacher_folds
            )
            for name in distillation.baseline_teachers
        ]
        teacher_logits, teacher_results = label_with_teachers(
            processes, distillation.teachers, transfer, splits["validation"], splits["test"], class_names(splits),
            cache, distillation.teacher_backend, device, distillation.teacher_batch_size, distillation.teacher_weights,
            fitted,
        )  # fmt: skip
        models = approach_of(recipe).build_models(arguments_by_class(arguments), recipe, splits)
        model = models.build({})
    except (ValueError, OSError) as error:
        sys.exit(f"error: {error}")
    tokenized = tokenize_splits(splits, models.tokenizer, training_args)
    transfer_tokenized = tokenize_splits(DatasetDict(train=transfer), models.tokenizer, training_args)["train"]
    tokenized["train"] = with_teacher_logits(transfer_tokenized, teacher_logits)
    unlabeled = unlabeled_reviews_for(model.config, data_args, models.tokenizer, training_args)
    return train_and_finish(
        model, training_args, tokenized, models.tokenizer, recipe, push_to_hub, unlabeled, teacher_results
    )


if __name__ == "__main__":
    main()

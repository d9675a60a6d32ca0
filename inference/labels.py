"""A model's labels and a dataset's classes: which of the dataset's classes each of the model's labels means, by name
("pos" is "POSITIVE", "LABEL_1" is the second class), and the model's probabilities over the dataset's classes. What
the evaluation, the comparison and distillation's teachers read any Hub text classifier through."""

import re
from collections.abc import Mapping, Sequence

import numpy as np


def match_labels(
    model_labels: Sequence[str], dataset_labels: Sequence[str], explicit: Mapping[str, str] = {}
) -> list[int]:
    """The dataset class of each of the model's labels, in the model's label order.

    A label maps to a dataset label through `explicit` first, then by name ignoring case, by prefix either way
    (IMDB's "pos" and SST-2's "positive"), or as `LABEL_<index>` (the default names of an unnamed head). Raises
    `ValueError` naming the labels that match nothing, so that no model is scored through a guessed mapping.
    """
    lowered = [name.lower() for name in dataset_labels]
    unknown_targets = sorted(set(explicit.values()) - set(dataset_labels))
    if unknown_targets:
        raise ValueError(
            f"--label_map names dataset labels {unknown_targets}; the dataset's are {list(dataset_labels)}."
        )
    mapping = []
    for label in model_labels:
        name = label.lower()
        default_index = re.fullmatch(r"label_(\d+)", name)
        if label in explicit:
            mapping.append(list(dataset_labels).index(explicit[label]))
        elif name in lowered:
            mapping.append(lowered.index(name))
        elif len(prefixed := [index for index, target in enumerate(lowered) if is_prefix_match(name, target)]) == 1:
            mapping.append(prefixed[0])
        elif default_index and int(default_index.group(1)) < len(dataset_labels):
            mapping.append(int(default_index.group(1)))
        else:
            raise ValueError(
                f"Cannot tell which dataset label ({list(dataset_labels)}) the model's label {label!r} means "
                f"(the model's labels: {list(model_labels)}); say it with --label_map {label}=DATASET_LABEL."
            )
    missing = sorted(set(range(len(dataset_labels))) - set(mapping))
    if missing:
        raise ValueError(
            f"No label of the model ({list(model_labels)}) maps to {[dataset_labels[i] for i in missing]}; "
            "say which with --label_map MODEL_LABEL=DATASET_LABEL."
        )
    return mapping


def is_prefix_match(name: str, target: str) -> bool:
    """Whether one label name starts the other, the shorter of three letters at least ("neg", "negative")."""
    shorter, longer = sorted((name, target), key=len)
    return len(shorter) >= 3 and longer.startswith(shorter)


def to_dataset_classes(model_probabilities: np.ndarray, mapping: Sequence[int], num_classes: int) -> np.ndarray:
    """Probabilities over the dataset's classes: each model label's probability added to its dataset class."""
    probabilities = np.zeros((len(model_probabilities), num_classes))
    for model_index, dataset_index in enumerate(mapping):
        probabilities[:, dataset_index] += model_probabilities[:, model_index]
    return probabilities

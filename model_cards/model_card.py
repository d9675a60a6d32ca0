"""The Hub model card of a trained model folder, generated from the folder's own files.

Every number in the card is read from `all_results.json` and every setting from `training_recipe.yaml` and
`config.json`, all written by the training run: nothing is typed by hand.
"""

from importlib.resources import files
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from evaluation.comparison import comparison_markdown, read_comparison
from evaluation.report import hard_cases_markdown
from inference.onnx_runtime import ONNX_FILES, onnx_file
from trainers.approaches import approach_of
from trainers.data import DATA_FILE_FIELDS, DEFAULT_DATASET
from trainers.distillation import teacher_name
from trainers.run_folder import CALIBRATION_DIAGRAM_FILE, CALIBRATION_METRICS_KEY, CARD_FILE, read_run

from .card_descriptions import (
    base_model_hub_id,
    describe_architecture,
    describe_cut,
    is_pretraining,
    is_word_vectors,
    long_review_reading,
)

TEMPLATE = files("model_cards") / "model_card_template.md"
PRETRAINING_TEMPLATE = files("model_cards") / "pretraining_card_template.md"
WORD_VECTORS_TEMPLATE = files("model_cards") / "word_vectors_card_template.md"
# The name the model index shows for the default dataset; another dataset is shown by its Hub id.
DATASET_DISPLAY_NAMES = {DEFAULT_DATASET: "IMDB"}
# Where all_results.json keeps each split a card reports: the classifier's test split, and a pretraining run's
# held-out unlabeled reviews, which its `Trainer` evaluated as `eval`.
RESULTS_PREFIX = {"test": "test", "unsupervised": "eval"}


def dataset_hub_id(recipe: dict) -> str | None:
    """The Hub id the card names as training data: `dataset_hub_id`, else `dataset_name` if that is not a folder;
    None for a run on local data files that names no Hub dataset (the card names the files instead)."""
    hub_id = recipe.get("dataset_hub_id") or recipe.get("dataset_name")
    if hub_id is None:
        return None
    if Path(hub_id).exists():
        raise ValueError(
            f"The run read its data from the local folder '{hub_id}'; name the Hub dataset it copies with "
            f"--dataset_hub_id (e.g. {DEFAULT_DATASET}) so that the model card can point to it."
        )
    return hub_id


def published_recipe(recipe: dict) -> dict:
    """The run's recipe as the card shows it, with no path of the training machine: a local dataset or encoder is
    named by the Hub id it copies (else by the folder's name), a data file by its name, and `output_dir` is left
    out."""
    published = {key: value for key, value in recipe.items() if key != "output_dir"}
    published["dataset_name"] = dataset_hub_id(recipe)
    published.update({key: Path(recipe[key]).name for key in DATA_FILE_FIELDS if recipe.get(key)})
    key = approach_of(recipe).base_model_key
    if key:
        published[key] = base_model_hub_id(recipe) or Path(recipe[key]).name
    elif recipe.get("pretrained_model_name_or_path"):  # a distillation student's starting folder
        published["pretrained_model_name_or_path"] = Path(recipe["pretrained_model_name_or_path"]).name
    if recipe.get("teachers"):
        published["teachers"] = [teacher_name(teacher) for teacher in recipe["teachers"]]
    published.pop("teacher_labels_dir", None)
    return published


def data_description(recipe: dict, dataset_id: str | None) -> dict:
    """What the card says of the data: the dataset (or files), its configuration, the text and label columns."""
    return {
        "dataset_id": dataset_id,
        "display_name": DATASET_DISPLAY_NAMES.get(dataset_id, dataset_id),
        "config": recipe.get("dataset_config_name"),
        "files": [Path(recipe[key]).name for key in DATA_FILE_FIELDS if recipe.get(key)],
        "text_column": recipe.get("text_column_name", "text"),
        "label_column": recipe.get("label_column_name", "label"),
    }


def eval_results(config: dict, results: dict, data: dict) -> list[EvalResult]:
    """The `model-index` entries: test accuracy and F1, or a pretraining run's held-out perplexity; none for a run on
    local files that names no Hub dataset (the index must name one)."""
    if data["dataset_id"] is None or is_word_vectors(config):  # word vectors have no score of their own
        return []
    dataset = {
        "dataset_type": data["dataset_id"],
        "dataset_name": data["display_name"],
        "dataset_config": data["config"],
    }
    if is_pretraining(config):
        return [
            EvalResult(
                task_type="text-generation",
                task_name="Language modelling (forward and backward)",
                **dataset,
                dataset_split="unsupervised",
                metric_type="perplexity",
                metric_name="Perplexity (held-out unlabeled reviews)",
                metric_value=results["eval_perplexity"],
            )
        ]
    return [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment classification",
            **dataset,
            dataset_split="test",
            metric_type=metric,
            metric_name=metric.capitalize() if metric == "accuracy" else metric.upper(),
            metric_value=results[f"test_{metric}"],
        )
        for metric in ("accuracy", "f1")
    ]


def build_model_card(
    folder: str | Path, repo_id: str | None = None, revision: str = "main", comparison: str | Path | None = None
) -> ModelCard:
    """The card for `folder`, to be published as `repo_id` (default: the folder's name), with the table of a
    `scripts/compare.py` run (its `comparison.json`) if `comparison` is given."""
    config, results, recipe = read_run(folder)
    dataset_id = dataset_hub_id(recipe)
    data = data_description(recipe, dataset_id)
    repo_id = repo_id or Path(folder).resolve().name
    base_model = base_model_hub_id(recipe)
    pretraining = is_pretraining(config) or is_word_vectors(config)
    card_data = ModelCardData(
        model_name=repo_id,
        base_model=base_model,
        language="en",
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="feature-extraction" if pretraining else "text-classification",
        tags=[card_tag(config), config["model_type"]] + (["imdb"] if dataset_id == DEFAULT_DATASET else []),
        datasets=[dataset_id] if dataset_id else None,
        metrics=["perplexity"] if is_pretraining(config) else None if pretraining else ["accuracy", "f1"],
        eval_results=eval_results(config, results, data) or None,
    )
    reading = long_review_reading(folder, recipe)
    comparison_section = comparison_markdown(read_comparison(comparison)) if comparison else ""
    return ModelCard.from_template(
        card_data,
        template_path=str(card_template(config)),
        vocab_size=config.get("vocab_size"),  # the pretraining card states it; a verbalizer has none of its own
        model_name=repo_id,
        repo_id=repo_id,
        revision=revision,
        description=describe_architecture(config, {**recipe, **reading}),
        dataset_id=dataset_id,
        data=data,
        imdb=dataset_id == DEFAULT_DATASET,
        classes=[config["id2label"][str(index)] for index in range(len(config["id2label"]))],
        results=results,
        recipe=recipe,
        recipe_yaml=yaml.safe_dump(published_recipe(recipe), sort_keys=False),
        training_script=approach_of(recipe).script,
        max_length=recipe["max_length"],
        cut=describe_cut(reading),
        chunk_overlap=reading["chunk_overlap"],
        comparison=comparison_section,
        hard_cases=hard_cases_markdown(results),
        onnx_files=onnx_files(folder),
        calibration_layer=(config.get(CALIBRATION_METRICS_KEY) or {}).get("folded_into"),
        calibration_diagram=CALIBRATION_DIAGRAM_FILE if (Path(folder) / CALIBRATION_DIAGRAM_FILE).is_file() else None,
    )


def card_tag(config: dict) -> str:
    """What the card tags the folder as."""
    if is_pretraining(config):
        return "language-model"
    return "word-embeddings" if is_word_vectors(config) else "sentiment-analysis"


def card_template(config: dict):
    """The card's template: a language-model pretraining folder's, a word-vector folder's, or a classifier's."""
    if is_pretraining(config):
        return PRETRAINING_TEMPLATE
    return WORD_VECTORS_TEMPLATE if is_word_vectors(config) else TEMPLATE


def onnx_files(folder: str | Path) -> list[str]:
    """The ONNX exports the folder holds (`scripts/export_onnx.py`), as paths inside it, the float model first."""
    present = [onnx_file(folder, backend) for backend in ONNX_FILES]
    return [path.relative_to(Path(folder)).as_posix() for path in present if path.is_file()]


def validate_model_card(card: ModelCard, folder: str | Path) -> None:
    """Checks offline what the Hub checks online, and more: the metadata parses back into a valid `model-index`,
    and its numbers are those of the folder's `all_results.json`."""
    reparsed = ModelCard(str(card))  # raises on invalid YAML or an invalid model-index
    data = reparsed.data
    config, results, recipe = read_run(folder)
    # A run on local files that names no Hub dataset has no dataset to list nor a model index to name it in.
    required = ["license", "language", "pipeline_tag", "library_name"]
    if dataset_hub_id(recipe) is not None:
        required += ["datasets"] + ([] if is_word_vectors(config) else ["eval_results"])
    for field in required:
        if not getattr(data, field, None):
            raise ValueError(f"Model card metadata lacks '{field}'.")
    for result in data.eval_results or []:
        expected = results[f"{RESULTS_PREFIX[result.dataset_split]}_{result.metric_type}"]
        if result.metric_value != expected:
            raise ValueError(
                f"Model card says {result.metric_type}={result.metric_value}, all_results.json says {expected}."
            )


def write_model_card(folder: str | Path, **card_options) -> Path:
    """Builds, validates and writes the card as `README.md` in `folder`."""
    card = build_model_card(folder, **card_options)
    validate_model_card(card, folder)
    path = Path(folder) / CARD_FILE
    card.save(path)
    return path

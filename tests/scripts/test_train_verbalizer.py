import json
import subprocess
import sys

import pytest
import yaml

from ..conftest import IMDB_CLASSES, PROJECT_ROOT, VERBALIZER_RECIPE, VERBALIZER_SCRIPT, load_folder_without_project


@pytest.fixture(params=["mlp", "mlm"])
def trained_verbalizer_folder(request):
    return request.getfixturevalue(f"verbalizer_{request.param}_folder")


def read_config(folder) -> dict:
    return json.loads((folder / "config.json").read_text())


def run_script(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(VERBALIZER_SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)


def test_folder_holds_encoder_head_tokenizer_results_and_card(trained_verbalizer_folder):
    files = {p.name for p in trained_verbalizer_folder.iterdir() if p.is_file()}
    assert {
        "model.safetensors", "config.json", "configuration_verbalizer.py", "modeling_verbalizer.py",
        "tokenizer.json", "tokenizer_config.json", "all_results.json", "training_recipe.yaml", "README.md",
    } <= files  # fmt: skip
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl"))], "no pickles"
    config = read_config(trained_verbalizer_folder)
    assert config["encoder_config"]["model_type"] == "modernbert" and config["max_length"] == 128

    results = json.loads((trained_verbalizer_folder / "all_results.json").read_text())
    assert (results["train_samples"], results["eval_samples"], results["test_samples"]) == (540, 60, 200)
    assert results["num_trainable_parameters"] < results["num_parameters"] / 2, "the encoder is frozen"
    if config["head_type"] == "mlm":
        assert 0.0 <= results["zero_shot_eval_accuracy"] <= 1.0
    recipe = yaml.safe_load((trained_verbalizer_folder / "training_recipe.yaml").read_text())
    assert recipe["head_type"] == config["head_type"] and recipe["max_length"] == 128
    card = (trained_verbalizer_folder / "README.md").read_text()
    assert "frozen pretrained encoder" in card and f"{100 * results['test_accuracy']:.2f}%" in card
    # The saved folder, template and all, scored on the hard cases for its card.
    pairs = results["minimal_pairs"]
    assert pairs["count"] >= 120 and f"Both sides right on {100 * pairs['consistency']:.2f}%" in card
    if config["head_type"] == "mlm":
        assert "scores the label words ' bad' / ' good'" in card
    else:
        assert "the template's last token and the mean" in card


def test_fresh_process_without_the_project_labels_raw_reviews(trained_verbalizer_folder, imdb_splits, tmp_path):
    texts = list(imdb_splits["test"]["text"][:40])
    long_review = " ".join(" ".join(imdb_splits["train"]["text"]).split()[:5000])
    seen = load_folder_without_project(trained_verbalizer_folder, texts, long_review, tmp_path)
    assert seen["project_importable"] is False
    assert seen["model_class_module"].startswith("transformers_modules.")
    assert seen["pipeline_labels"] == seen["model_labels"]
    assert set(seen["pipeline_labels"]) <= set(IMDB_CLASSES)

    # The pipeline's tokenizer, given the raw 5,000-word review, ends it with the template (and [SEP]).
    config = read_config(trained_verbalizer_folder)
    ending = config["template_token_ids"] + [config["encoder_config"]["sep_token_id"]]
    assert seen["long_review_last_token_ids"][-len(ending) :] == ending
    for scores in (seen["long_review_scores"], seen["long_review_scores_untruncated"]):
        assert sorted(s["label"] for s in scores) == IMDB_CLASSES
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-5)
    # The model cuts every review to its max_length itself, so truncation by the tokenizer changes nothing.
    assert seen["long_review_scores"] == seen["long_review_scores_untruncated"]


def test_help_and_bad_arguments_from_the_command_line(random_modernbert_folder, imdb_dataset):
    help_run = run_script("--help")
    assert help_run.returncode == 0
    for option in ("--encoder_name_or_path", "--template", "--head_type", "--truncation", "--encoding_batch_size"):
        assert option in help_run.stdout

    bad_word = run_script(
        str(VERBALIZER_RECIPE), "--dataset_name", imdb_dataset, "--encoder_name_or_path", str(random_modernbert_folder),
        "--head_type", "mlm", "--label_words", " bad", " unwatchablyoverwrought", "--max_train_samples", "100",
    )  # fmt: skip
    assert bad_word.returncode == 1 and "choose single-token words" in bad_word.stderr
    bad_head = run_script(str(VERBALIZER_RECIPE), "--head_type", "svm")
    assert bad_head.returncode == 2 and "head_type" in bad_head.stderr

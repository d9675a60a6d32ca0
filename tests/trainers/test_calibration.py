"""Temperature scaling (`trainers/calibration.py`): the fitted temperature is the NLL's minimum, and folding it into
the logit layer of every kind of head divides the logits by it and changes no label."""

import json

import numpy as np
import pytest
import torch
from torch import nn
from transformers import (
    AlbertConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    DistilBertConfig,
    ModernBertConfig,
    RobertaConfig,
    set_seed,
)

import trainers.calibration as calibration_module
from evaluation.report import evaluation_report, write_report
from model_cards.recalibration import run_data_settings
from models import LSTMForSequenceClassification, LSTMSentimentConfig
from trainers.arguments import SentimentTrainingArguments
from trainers.calibration import (
    TEMPERATURE_BOUNDS,
    CalibrationError,
    calibrate_trainer,
    calibration_figures,
    calibration_record,
    fit_temperature,
    logit_layer,
    logits_were_divided,
    negative_log_likelihood,
    recorded_temperature,
    rescale_probabilities,
    scale_layer,
    softmax,
)
from trainers.data import DatasetSource
from trainers.metrics import calibration
from trainers.run_folder import CALIBRATION_DIAGRAM_FILE
from trainers.tokenizer import train_word_tokenizer
from trainers.training import build_trainer, logits_of, predict_in_order, tokenize_splits

from ..conftest import build_test_verbalizer


def test_the_fitted_temperature_is_the_hand_computed_minimum_of_the_nll():
    # Four reviews, every logit margin 4, three right and one wrong. The NLL, -(3 log s(4/T) + log s(-4/T)) / 4 with
    # s the logistic function, is smallest where the model's confidence s(4/T) equals its accuracy, 3/4:
    # 4/T = log 3, T = 4 / log 3, and there the NLL is the entropy of (3/4, 1/4).
    logits = np.array([[2.0, -2.0], [2.0, -2.0], [2.0, -2.0], [-2.0, 2.0]])
    labels = np.array([0, 0, 0, 0])
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(4 / np.log(3), rel=1e-10)
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert negative_log_likelihood(logits, labels, temperature) == pytest.approx(entropy, rel=1e-12)
    assert negative_log_likelihood(logits, labels) > entropy  # T = 1 was overconfident


def test_the_fitted_temperature_beats_every_temperature_of_a_fine_grid():
    generator = np.random.default_rng(0)
    labels = generator.integers(0, 3, size=500)
    logits = generator.normal(size=(500, 3)) * 3
    logits[np.arange(500), labels] += 2.5  # right more often than not, and overconfident
    temperature = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(0.1), np.log(10), 20001))
    grid_nll = np.array([negative_log_likelihood(logits, labels, t) for t in grid])
    assert negative_log_likelihood(logits, labels, temperature) <= grid_nll.min() + 1e-12
    assert temperature == pytest.approx(grid[grid_nll.argmin()], rel=5e-4)
    assert temperature > 1


def test_separable_or_hopeless_validation_sets_give_the_bounds():
    right = np.array([[3.0, -1.0], [-2.0, 2.0]])
    assert fit_temperature(right, np.array([0, 1])) == TEMPERATURE_BOUNDS[0]  # the NLL falls toward T = 0
    assert fit_temperature(right, np.array([1, 0])) == TEMPERATURE_BOUNDS[1]  # always wrong: toward uniform
    with pytest.raises(CalibrationError, match="two classes or more"):
        fit_temperature(np.zeros((3, 1)), np.zeros(3, dtype=int))


def test_scaled_probabilities_follow_from_the_probabilities_alone():
    logits = np.random.default_rng(1).normal(size=(50, 3)) * 4
    probabilities = softmax(logits)
    np.testing.assert_allclose(rescale_probabilities(probabilities, 1 / 1.7), softmax(logits / 1.7), atol=1e-12)
    np.testing.assert_allclose(rescale_probabilities(softmax(logits / 1.7), 1.7), probabilities, atol=1e-12)
    assert rescale_probabilities(np.array([[1.0, 0.0]]), 0.5).tolist() == [[1.0, 0.0]]  # 0 stays 0


def test_calibration_figures_are_those_of_the_evaluation_report():
    logits = np.random.default_rng(2).normal(size=(200, 2)) * 5
    labels = (logits[:, 1] + np.random.default_rng(3).normal(size=200) * 3 > logits[:, 0]).astype(int)
    temperature = fit_temperature(logits, labels)
    figures = calibration_figures(logits, labels, temperature)
    assert figures["nll_after"] <= figures["nll_before"] and figures["ece_after"] < figures["ece_before"]
    report = evaluation_report(
        labels, softmax(logits / temperature), ["a review"] * 200, ["neg", "pos"],
        temperature=temperature, unscaled_probabilities=softmax(logits),
    )  # fmt: skip
    assert report["calibration"] == calibration(labels, softmax(logits / temperature))
    assert report["calibration"]["expected_calibration_error"] == pytest.approx(figures["ece_after"])
    assert report["negative_log_likelihood"] == pytest.approx(figures["nll_after"], rel=1e-9)
    before = report["before_temperature_scaling"]
    assert before["temperature"] == temperature
    assert before["negative_log_likelihood"] == pytest.approx(figures["nll_before"], rel=1e-9)
    assert before["calibration"]["expected_calibration_error"] == pytest.approx(figures["ece_before"])
    record = calibration_record(temperature, figures, "classifier", 200)
    assert recorded_temperature(record) == temperature and recorded_temperature({}) is None
    json.dumps(record)  # config.json takes it as it is


def test_the_evaluation_report_shows_both_sides_of_the_scaling(tmp_path):
    labels = np.array([0, 1, 1, 0])
    unscaled = np.array([[0.99, 0.01], [0.2, 0.8], [0.9, 0.1], [0.4, 0.6]])
    report = evaluation_report(
        labels, rescale_probabilities(unscaled, 0.5), ["a"] * 4, ["neg", "pos"], calibration_bins=5,
        temperature=2.0, unscaled_probabilities=unscaled,
    )  # fmt: skip
    plots = write_report(report, tmp_path, title="scaled")
    markdown = (tmp_path / "evaluation.md").read_text()
    before = report["before_temperature_scaling"]
    assert "## Temperature scaling" in markdown and "T = 2.0000" in markdown
    assert f"| before scaling | {before['calibration']['expected_calibration_error']:.4f} |" in markdown
    assert f"| {report['negative_log_likelihood']:.4f} |" in markdown
    assert plots["reliability_diagram"].is_file()
    # Without a temperature, the report has no such section.
    plain = evaluation_report(labels, unscaled, ["a"] * 4, ["neg", "pos"])
    assert "before_temperature_scaling" not in plain
    write_report(plain, tmp_path / "plain", title="plain")
    assert "Temperature scaling" not in (tmp_path / "plain" / "evaluation.md").read_text()


def tiny_lstm():
    config = LSTMSentimentConfig(vocab_size=300, embedding_dim=16, hidden_size=8, num_labels=2)
    return LSTMForSequenceClassification(config), torch.randint(2, 300, (6, 20))


def tiny_encoder(config_class, **sizes):
    """A small random sequence classifier of a transformers architecture, and random token ids."""
    config = config_class(vocab_size=200, num_labels=3, **sizes)
    return AutoModelForSequenceClassification.from_config(config), torch.randint(5, 200, (6, 12))


ENCODERS = {
    "bert": (BertConfig, "classifier", {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                        "intermediate_size": 64}),
    "distilbert": (DistilBertConfig, "classifier", {"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64}),
    "albert": (AlbertConfig, "classifier", {"hidden_size": 32, "embedding_size": 16, "num_hidden_layers": 1,
                                            "num_attention_heads": 2, "intermediate_size": 64}),
    "modernbert": (ModernBertConfig, "classifier", {"hidden_size": 32, "num_hidden_layers": 1,
                                                    "num_attention_heads": 2, "intermediate_size": 64,
                                                    "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2,
                                                    "cls_token_id": 2, "sep_token_id": 1}),
    "roberta": (RobertaConfig, "classifier.out_proj", {"hidden_size": 32, "num_hidden_layers": 1,
                                                       "num_attention_heads": 2, "intermediate_size": 64}),
}  # fmt: skip


def assert_folding_divides_the_logits(model, inputs: dict, expected_layer: str, temperature: float = 1.8):
    model.eval()
    with torch.no_grad():
        before = model(**inputs).logits.double()
        layer = logit_layer(model, model.config.num_labels)
        assert layer == expected_layer
        scale_layer(model, layer, 1 / temperature)
        after = model(**inputs).logits.double()
    torch.testing.assert_close(after, before / temperature, rtol=1e-5, atol=1e-6)
    assert torch.equal(after.argmax(-1), before.argmax(-1))


def test_folding_divides_the_lstms_logits():
    torch.manual_seed(0)
    model, input_ids = tiny_lstm()
    assert_folding_divides_the_logits(model, {"input_ids": input_ids}, "classifier")


@pytest.mark.parametrize("architecture", list(ENCODERS))
def test_folding_divides_a_fine_tuned_encoders_logits(architecture):
    torch.manual_seed(0)
    config_class, layer, sizes = ENCODERS[architecture]
    model, input_ids = tiny_encoder(config_class, **sizes)
    assert_folding_divides_the_logits(model, {"input_ids": input_ids}, layer)


@pytest.mark.parametrize("head_type, layer", [("mlp", "head.layers.8"), ("mlm", "head.label_words")])
def test_folding_divides_the_verbalizers_logits(random_modernbert_folder, imdb_splits, head_type, layer):
    torch.manual_seed(0)
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, head_type=head_type)
    with torch.no_grad():  # BatchNorm's running statistics away from their start, as after training
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
    inputs = tokenizer(imdb_splits["test"]["text"][:6], truncation=True, padding=True, return_tensors="pt")
    assert_folding_divides_the_logits(model, dict(inputs), layer)


def test_a_model_without_a_logit_layer_is_refused():
    with pytest.raises(CalibrationError, match="no linear layer with 2 outputs"):
        logit_layer(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), 2)


def test_the_runs_data_settings_are_taken_from_its_recipe_unless_given():
    recipe = {
        "approach": "lstm", "dataset_name": "stanfordnlp/sst2", "text_column_name": "sentence", "seed": 7,
        "max_train_samples": 2000, "validation_fraction": 0.2, "hidden_size": 64,
    }  # fmt: skip
    settings = run_data_settings(recipe, {})
    assert settings["source"] == DatasetSource(dataset_name="stanfordnlp/sst2", text_column_name="sentence")
    assert (settings["seed"], settings["max_train_samples"], settings["validation_fraction"]) == (7, 2000, 0.2)
    local = run_data_settings(recipe, {"dataset_name": "copies/sst2", "seed": 8})
    assert local["source"].dataset_name == "copies/sst2" and local["source"].text_column_name == "sentence"
    assert local["seed"] == 8
    # Data files given replace the recipe's dataset, as in training.
    files = run_data_settings(recipe, {"train_file": "train.csv"})["source"]
    assert files.dataset_name is None and files.train_file == "train.csv"
    # A folder without a recipe: the defaults of training.
    bare = run_data_settings({}, {"dataset_name": "imdb"})
    assert (bare["seed"], bare["max_train_samples"], bare["validation_fraction"]) == (42, None, 0.1)
    # A run that carved its split with another seed than its own (split_seed) is calibrated on that split.
    assert run_data_settings({**recipe, "split_seed": 42}, {})["seed"] == 42


def trained_lstm_trainer(imdb_splits, output_dir, bf16: bool = False):
    """A small attention-pooling LSTM trained one epoch on 540 real reviews (in bf16 autocast on the CPU if asked),
    and its tokenized splits."""
    set_seed(0)
    args = SentimentTrainingArguments(
        output_dir=str(output_dir), num_train_epochs=1, learning_rate=5e-3, per_device_train_batch_size=16,
        eval_strategy="no", save_strategy="no", report_to="none", seed=0, disable_tqdm=True, bf16=bf16, use_cpu=bf16,
    )  # fmt: skip
    tokenizer = train_word_tokenizer(
        imdb_splits["train"]["text"], vocab_size=4000, min_frequency=2, model_max_length=128
    )
    tokenized = tokenize_splits(imdb_splits, tokenizer, args)
    config = LSTMSentimentConfig(vocab_size=len(tokenizer), embedding_dim=32, hidden_size=32, pooling="attention")
    trainer = build_trainer(LSTMForSequenceClassification(config), args, tokenized, tokenizer)
    trainer.train()
    return trainer, tokenized


@pytest.mark.parametrize("bf16", [False, True])
def test_calibrate_trainer_folds_records_and_draws(imdb_splits, tmp_path, bf16):
    trainer, tokenized = trained_lstm_trainer(imdb_splits, tmp_path, bf16=bf16)
    validation = tokenized["validation"]
    before = logits_of(predict_in_order(trainer, validation))
    entries = calibrate_trainer(trainer, validation)
    temperature = entries["calibration_temperature"]
    assert temperature == pytest.approx(fit_temperature(before, validation["label"]), rel=1e-9)
    after = logits_of(predict_in_order(trainer, validation))
    if bf16:  # rounded logits: as close as the fold's own check asks
        assert logits_were_divided(after, before / temperature, mixed_precision=True)
    else:
        np.testing.assert_allclose(after, before / temperature, rtol=1e-4, atol=1e-6)
    assert (after.argmax(1) == before.argmax(1)).all()
    assert entries["eval_nll_after_calibration"] <= entries["eval_nll_before_calibration"]
    config = trainer.model.config
    assert config.calibration_temperature == temperature
    assert config.calibration_metrics["folded_into"] == "classifier" and config.calibration_metrics["samples"] == 60
    assert (tmp_path / "unfinished" / CALIBRATION_DIAGRAM_FILE).is_file()


def test_the_fold_check_allows_rounding_under_mixed_precision_only():
    """Logits as a fine-tuned MiniLM gave them in bf16 (`--bf16 true` on the CPU): the largest 1.81, a logit near 0
    off by 0.009 after the fold. That is rounding under bf16 and a wrong fold in float32; logits not divided by T
    are refused in both."""
    expected = np.array([[1.8145, -1.7621], [0.1002, -0.1399], [-0.9512, 0.8874]])
    rounded = expected + np.array([[0.0039, -0.0020], [0.0087, -0.0086], [0.0, 0.0039]])
    assert logits_were_divided(rounded, expected, mixed_precision=True)
    assert not logits_were_divided(rounded, expected, mixed_precision=False)
    for precision in (True, False):
        assert logits_were_divided(expected, expected, mixed_precision=precision)
        assert not logits_were_divided(expected * 1.3, expected, mixed_precision=precision)


@pytest.mark.parametrize("bf16", [False, True])
def test_calibrate_trainer_leaves_a_model_whose_logits_do_not_scale_as_it_was(
    imdb_splits, tmp_path, monkeypatch, caplog, bf16
):
    trainer, tokenized = trained_lstm_trainer(imdb_splits, tmp_path, bf16=bf16)
    weights = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    # Dividing the attention scorer's weights changes which tokens the pooling reads, not the logits' scale.
    monkeypatch.setattr(calibration_module, "logit_layer", lambda model, num_labels: "lstm.pooling.attention")
    assert calibrate_trainer(trainer, tokenized["validation"]) == {}
    assert "did not divide the logits" in caplog.text
    assert getattr(trainer.model.config, "calibration_temperature", None) is None
    for name, tensor in trainer.model.state_dict().items():
        torch.testing.assert_close(tensor, weights[name])

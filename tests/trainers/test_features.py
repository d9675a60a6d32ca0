import pytest
import torch
from transformers import AutoModel, AutoTokenizer, TrainingArguments, default_data_collator, set_seed

from trainers.arguments import SentimentTrainingArguments
from trainers.features import encode_splits, feature_fingerprint, weights_digest
from trainers.training import build_trainer, train_and_evaluate

from ..conftest import TEST_TEMPLATE, build_test_verbalizer


def test_minilm_features_are_the_plain_encoder_states_of_review_and_template(minilm_path, imdb_splits):
    model, tokenizer = build_test_verbalizer(minilm_path, max_length=128)
    plain_tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    encoder = AutoModel.from_pretrained(minilm_path).eval()
    short_review = min(imdb_splits["test"]["text"], key=len)
    with torch.no_grad():
        features = model.encode(**tokenizer(short_review, return_tensors="pt"))
        plain = encoder(**plain_tokenizer(short_review + TEST_TEMPLATE, return_tensors="pt")).last_hidden_state[0]
    # The template's last token ("is") sits just before [SEP].
    torch.testing.assert_close(features["token_state"][0], plain[-2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(features["mean_state"][0], plain.mean(dim=0), rtol=1e-4, atol=1e-5)


def test_fingerprint_changes_with_template_max_length_truncation_and_encoder(random_modernbert_folder, imdb_splits):
    split = imdb_splits["validation"]

    def fingerprint(**overrides):
        model, tokenizer = build_test_verbalizer(random_modernbert_folder, **overrides)
        return feature_fingerprint(split, model, tokenizer, weights_digest(model.encoder))

    reference = fingerprint()
    assert fingerprint() == reference, "the same settings must find the same cache"
    variants = [
        fingerprint(template=" Overall, the film was"),
        fingerprint(max_length=128),
        fingerprint(truncation="head"),
        fingerprint(head_tokens=8),
        fingerprint(head_type="mlm"),  # the mask token joins the template
    ]
    assert len({reference, *variants}) == len(variants) + 1

    model, tokenizer = build_test_verbalizer(random_modernbert_folder)
    with torch.no_grad():
        model.encoder.embeddings.tok_embeddings.weight[5] += 1.0
    assert feature_fingerprint(split, model, tokenizer, weights_digest(model.encoder)) != reference
    other_rows = imdb_splits["test"]
    model, tokenizer = build_test_verbalizer(random_modernbert_folder)
    assert feature_fingerprint(other_rows, model, tokenizer, weights_digest(model.encoder)) != reference


def test_cached_features_are_reused_only_when_nothing_changed(random_modernbert_folder, imdb_splits, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    splits = imdb_splits.filter(lambda _, index: index < 40, with_indices=True)

    def train_states(**overrides):
        model, tokenizer = build_test_verbalizer(random_modernbert_folder, **overrides)
        features, timings = encode_splits(splits, model, tokenizer, batch_size=8, args=args)
        return features["train"][:]["token_state"], timings

    first, _ = train_states()
    again, timings = train_states()
    assert "train_encoding_reviews_per_second" not in timings, "nothing changed: the cache must be read"
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert first.shape == (len(splits["train"]), 64)
    for overrides in ({"max_length": 48}, {"template": " Overall, the film was"}):
        changed, _ = train_states(**overrides)
        assert not torch.allclose(changed, first), f"stale features reused after changing {overrides}"


@pytest.mark.parametrize("head_type", ["mlp", "mlm"])
def test_head_trains_on_cached_features_through_trainer_and_lowers_validation_loss(
    random_modernbert_folder, imdb_splits, tmp_path, head_type
):
    set_seed(0)
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, head_type=head_type)
    args = SentimentTrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=15, learning_rate=1e-2, per_device_train_batch_size=32,
        eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True, metric_for_best_model="loss",
        greater_is_better=False, report_to="none", seed=0, disable_tqdm=True, save_total_limit=1,
    )  # fmt: skip
    features, _ = encode_splits(imdb_splits, model, tokenizer, batch_size=32, args=args)
    encoder_before = weights_digest(model.encoder)
    trainer = build_trainer(model, args, features, tokenizer, data_collator=default_data_collator)
    before = trainer.evaluate()["eval_loss"]
    results = train_and_evaluate(trainer, features, recipe={"approach": "verbalizer"})
    assert results["eval_loss"] < before - 0.01, (before, results["eval_loss"])
    assert weights_digest(trainer.model.encoder) == encoder_before, "the frozen encoder must not change"
    history = [entry["eval_loss"] for entry in trainer.state.log_history if "eval_loss" in entry]
    kept = results["eval_nll_before_calibration"]  # its loss before temperature scaling, which lowers it
    assert kept == pytest.approx(min(history[1:-1])), "the best checkpoint is kept, not the last"
    assert (
        results["eval_loss"] == pytest.approx(results["eval_nll_after_calibration"]) and results["eval_loss"] <= kept
    )

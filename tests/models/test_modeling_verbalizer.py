import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import AutoConfig, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer, pipeline

from models import VerbalizerConfig, VerbalizerForSequenceClassification
from models.verbalizer.modeling_verbalizer import cut_rows

from ..conftest import assert_padding_does_not_change_logits, build_test_verbalizer


def five_thousand_words(imdb_splits) -> str:
    return " ".join(" ".join(imdb_splits["train"]["text"]).split()[:5000])  # real reviews, end to end


def test_cut_rows_keeps_the_start_and_end_of_long_rows_and_leaves_short_rows_whole():
    input_ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 0, 0, 0, 0, 0]])
    cut_ids, cut_mask, lengths = cut_rows(input_ids, input_ids.ne(0).long(), max_length=5, kept_from_start=2)
    assert cut_ids.tolist() == [[1, 2, 6, 7, 8], [1, 2, 3, 0, 0]]
    assert cut_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert lengths.tolist() == [5, 3]


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_template_survives_a_5000_word_review(random_modernbert_folder, imdb_splits, truncation):
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, max_length=64, truncation=truncation)
    review = five_thousand_words(imdb_splits)
    template = model.config.template_token_ids
    ending = template + [tokenizer.sep_token_id]

    assert model.config.kept_from_start == tokenizer.kept_from_start(64)  # one rule for the model and its tokenizer
    ids = tokenizer(review, truncation=True)["input_ids"]  # as `pipeline` calls it
    assert ids[-len(ending) :] == ending
    all_real = torch.ones(1, len(ids), dtype=torch.long)
    cut, _, _ = cut_rows(torch.tensor([ids]), all_real, 64, model.config.kept_from_start)
    row = cut[0].tolist()
    assert len(row) == 64 and row[0] == tokenizer.cls_token_id and row[-len(ending) :] == ending
    body, review_ids = row[1 : -len(ending)], tokenizer(review, add_special_tokens=False)["input_ids"]
    assert len(review_ids) > 5000
    if truncation == "head":
        assert body == review_ids[: len(body)]
    elif truncation == "tail":
        assert body == review_ids[-len(body) :]
    else:
        assert body[:15] == review_ids[:15] and body[15:] == review_ids[-len(body[15:]) :]

    with torch.no_grad():
        logits = model(**tokenizer([review, "Short."], truncation=True, padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_input_without_the_template_is_refused(random_modernbert_folder, imdb_splits):
    model, _ = build_test_verbalizer(random_modernbert_folder)
    plain_tokenizer = AutoTokenizer.from_pretrained(random_modernbert_folder)
    batch = plain_tokenizer(imdb_splits["test"]["text"][:2], truncation=True, padding=True, return_tensors="pt")
    with pytest.raises(ValueError, match="does not end with the verbalizer template"):
        model(**batch)


def test_left_padding_is_refused(random_modernbert_folder):
    model, tokenizer = build_test_verbalizer(random_modernbert_folder)
    ids = tokenizer("A fine film.")["input_ids"]
    with pytest.raises(ValueError, match="right padding"):
        model(
            input_ids=torch.tensor([[tokenizer.pad_token_id] + ids]),
            attention_mask=torch.tensor([[0] + [1] * len(ids)]),
        )


@pytest.mark.parametrize("head_type", ["mlp", "mlm"])
def test_padding_does_not_change_logits(random_modernbert_folder, imdb_splits, head_type):
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, max_length=96, head_type=head_type)
    # Attention sums in another order over a padded row, hence a tolerance of 1e-4.
    assert_padding_does_not_change_logits(model, tokenizer, imdb_splits["test"]["text"][:4] + ["Dull."], rtol=1e-4)


def test_mlm_head_is_the_masked_lm_scoring_label_words_before_any_training(
    random_modernbert_folder, imdb_splits, tmp_path
):
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, max_length=96, head_type="mlm")
    reviews = imdb_splits["test"]["text"][:6]
    batch = tokenizer(reviews, truncation=True, padding=True, return_tensors="pt")
    cut_ids, cut_mask, lengths = cut_rows(
        batch["input_ids"], batch["attention_mask"], 96, model.config.kept_from_start
    )
    masked_lm = AutoModelForMaskedLM.from_pretrained(random_modernbert_folder).eval()
    with torch.no_grad():
        logits = model(**batch).logits
        vocabulary_logits = masked_lm(input_ids=cut_ids, attention_mask=cut_mask).logits
    mask_positions = lengths - 2  # ... [MASK] [SEP]
    assert (cut_ids[torch.arange(len(reviews)), mask_positions] == tokenizer.mask_token_id).all()
    expected = vocabulary_logits[torch.arange(len(reviews)), mask_positions][:, model.config.label_word_ids]
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)

    # Zero-shot, through the ordinary pipeline: a label and probabilities for every review, with no training.
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    classifier = pipeline("sentiment-analysis", model=str(tmp_path), trust_remote_code=True)
    results = classifier(reviews, truncation=True, top_k=None)
    for scores in results:
        assert sorted(s["label"] for s in scores) == ["NEGATIVE", "POSITIVE"]
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-5)


def test_save_and_load_give_identical_logits_and_a_self_contained_config(
    random_modernbert_folder, imdb_splits, tmp_path
):
    model, tokenizer = build_test_verbalizer(random_modernbert_folder, max_length=96)
    model.save_pretrained(tmp_path)
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.auto_map == {
        "AutoConfig": "configuration_verbalizer.VerbalizerConfig",
        "AutoModelForSequenceClassification": "modeling_verbalizer.VerbalizerForSequenceClassification",
    }
    assert config.encoder_config.model_type == "modernbert" and config.encoder_config.hidden_size == 64
    assert {"configuration_verbalizer.py", "modeling_verbalizer.py", "model.safetensors"} <= {
        p.name for p in tmp_path.iterdir()
    }
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, VerbalizerForSequenceClassification)
    batch = tokenizer(imdb_splits["test"]["text"][:3], truncation=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_only_the_head_trains_and_the_frozen_encoder_never_drops_out(random_modernbert_folder):
    model, _ = build_test_verbalizer(random_modernbert_folder)
    trainable = {name.split(".")[0] for name, parameter in model.named_parameters() if parameter.requires_grad}
    assert trainable == {"head"}
    model.train()
    assert not model.encoder.training and model.head.training


def test_bad_label_words_and_templates_stop_with_a_message(random_modernbert_folder):
    with pytest.raises(ValueError, match="single-token words"):
        build_test_verbalizer(
            random_modernbert_folder, head_type="mlm", label_words=[" bad", " unwatchablyoverwrought"]
        )
    with pytest.raises(ValueError, match="leaves no room for the text"):
        build_test_verbalizer(random_modernbert_folder, max_length=12, truncation="head_tail", head_tokens=4)
    with pytest.raises(StrictDataclassFieldValidationError, match="head_type"):
        VerbalizerConfig(head_type="svm")
    with pytest.raises(ValueError, match="template_token_ids is not set"):
        VerbalizerForSequenceClassification(VerbalizerConfig(encoder_config={"model_type": "modernbert"}))

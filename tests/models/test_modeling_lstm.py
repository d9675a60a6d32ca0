import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from transformers import AutoConfig, AutoModelForSequenceClassification

from models import LSTMForSequenceClassification, LSTMSentimentConfig
from models.lstm.modeling_lstm import reverse_padded
from trainers.tokenizer import train_word_tokenizer

from ..conftest import assert_padding_does_not_change_logits


@pytest.fixture(scope="module")
def tokenizer(imdb_splits):
    return train_word_tokenizer(imdb_splits["train"]["text"], vocab_size=5000, min_frequency=2, model_max_length=128)


def small_config(**overrides) -> LSTMSentimentConfig:
    return LSTMSentimentConfig(**{"vocab_size": 5000, "embedding_dim": 16, "hidden_size": 8, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {"pooling": "max_mean"},
        {"pooling": "max"},
        {"pooling": "mean"},
        {"pooling": "attention"},
        {"pooling": "attention", "num_layers": 2, "lstm_dropout": 0.2},
        {"pooling": "max_mean", "bidirectional": False},
    ],
)
def test_padding_does_not_change_logits(tokenizer, imdb_splits, overrides):
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config(**overrides)).eval()
    assert_padding_does_not_change_logits(model, tokenizer, imdb_splits["test"]["text"][:6])


def test_reverse_padded_reverses_each_row_within_its_length():
    sequences = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [0, 0, 0, 0]])
    lengths = torch.tensor([3, 2, 0])
    reversed_rows = reverse_padded(sequences, lengths)
    assert reversed_rows.tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [0, 0, 0, 0]]
    assert torch.equal(reverse_padded(reversed_rows, lengths), sequences)


def test_save_and_load_give_identical_logits(tokenizer, imdb_splits, tmp_path):
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config(pooling="attention")).eval()
    batch = tokenizer(imdb_splits["test"]["text"][:4], truncation=True, padding=True, return_tensors="pt")
    model.save_pretrained(tmp_path)

    assert (tmp_path / "model.safetensors").is_file()
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.auto_map == {
        "AutoConfig": "configuration_lstm.LSTMSentimentConfig",
        "AutoModelForSequenceClassification": "modeling_lstm.LSTMForSequenceClassification",
    }
    assert {"configuration_lstm.py", "modeling_lstm.py"} <= {p.name for p in tmp_path.iterdir()}
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, LSTMForSequenceClassification)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_forward_returns_cross_entropy_loss_and_labels_are_named():
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config())
    input_ids = torch.tensor([[5, 6, 7], [8, 9, 0]])
    labels = torch.tensor([1, 0])
    output = model(input_ids=input_ids, labels=labels)
    expected = torch.nn.functional.cross_entropy(output.logits, labels)
    torch.testing.assert_close(output.loss, expected)
    assert model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}


def test_empty_input_gives_finite_logits():
    model = LSTMForSequenceClassification(small_config()).eval()
    for input_ids in (torch.zeros((1, 0), dtype=torch.long), torch.tensor([[4, 5], [0, 0]])):
        logits = model(input_ids=input_ids).logits
        assert torch.isfinite(logits).all()


def test_left_padding_is_refused():
    model = LSTMForSequenceClassification(small_config())
    with pytest.raises(ValueError, match="right padding"):
        model(input_ids=torch.tensor([[0, 5, 6]]), attention_mask=torch.tensor([[0, 1, 1]]))


def test_lstm_weights_use_orthogonal_recurrence_and_forget_bias_of_one():
    model = LSTMForSequenceClassification(small_config(hidden_size=8))
    layer = model.base_model.lstm.forward_layers[0]
    recurrent = layer.weight_hh_l0.detach()  # (4 gates * 8, 8): orthonormal columns
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(8), rtol=0, atol=1e-5)
    assert torch.all(layer.bias_ih_l0[8:16] == 1) and torch.all(layer.bias_ih_l0[:8] == 0)
    assert torch.all(model.get_input_embeddings().weight[0] == 0)


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        ({"pooling": "median"}, StrictDataclassFieldValidationError, "pooling"),
        ({"hidden_size": "big"}, StrictDataclassFieldValidationError, "hidden_size"),
        ({"embedding_dropout": 1.0}, ValueError, "embedding_dropout"),
        ({"num_layers": 0}, ValueError, "num_layers"),
    ],
)
def test_config_rejects_bad_hyperparameters(overrides, error, message):
    with pytest.raises(error, match=message):
        small_config(**overrides)

import pytest
import torch
from huggingface_hub.errors import StrictDataclassFieldValidationError
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from models import LSTMForPreTraining, LSTMForSequenceClassification, LSTMModel, LSTMSentimentConfig
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
    # A classifier folder also loads as its base model, as a BERT classifier does with AutoModel.
    assert config.auto_map == {
        "AutoConfig": "configuration_lstm.LSTMSentimentConfig",
        "AutoModel": "modeling_lstm.LSTMModel",
        "AutoModelForSequenceClassification": "modeling_lstm.LSTMForSequenceClassification",
    }
    assert {"configuration_lstm.py", "modeling_lstm.py"} <= {p.name for p in tmp_path.iterdir()}
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, LSTMForSequenceClassification)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(base, LSTMModel)
    torch.testing.assert_close(base.embeddings.weight, model.lstm.embeddings.weight, rtol=0, atol=0)
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


def test_gru_cells_are_built_and_initialised_like_the_lstm():
    model = LSTMForSequenceClassification(small_config(cell_type="gru", hidden_size=8))
    layer = model.base_model.lstm.backward_layers[0]
    assert isinstance(layer, torch.nn.GRU)
    recurrent = layer.weight_hh_l0.detach()  # (3 gates * 8, 8)
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(8), rtol=0, atol=1e-5)
    assert torch.all(layer.bias_ih_l0 == 0)  # no forget gate: no bias of one


@pytest.mark.parametrize(
    "overrides",
    [
        {"cell_type": "gru"},
        {"classification_loss": "label_smoothing", "label_smoothing": 0.2},
        {"classification_loss": "confidence_penalty", "confidence_penalty_weight": 0.5},
    ],
)
def test_gru_and_each_loss_train_on_real_reviews_and_save_and_load(tokenizer, imdb_splits, overrides, tmp_path):
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config(**overrides, embedding_dropout=0.0, classifier_dropout=0.0))
    batch = tokenizer(imdb_splits["train"]["text"][:16], truncation=True, padding=True, return_tensors="pt")
    labels = torch.tensor(imdb_splits["train"]["label"][:16])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]

    model.eval().save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert reloaded.config.to_diff_dict() == model.config.to_diff_dict()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_classification_losses_follow_their_definitions():
    torch.manual_seed(0)
    input_ids, labels = torch.tensor([[5, 6, 7], [8, 9, 0], [10, 11, 12]]), torch.tensor([1, 0, 1])
    losses = {}
    for loss in ("cross_entropy", "label_smoothing", "confidence_penalty"):
        torch.manual_seed(0)
        model = LSTMForSequenceClassification(small_config(classification_loss=loss)).eval()
        output = model(input_ids=input_ids, labels=labels)
        losses[loss], logits = output.loss, output.logits
    cross_entropy = torch.nn.functional.cross_entropy(logits, labels)
    probabilities = logits.softmax(dim=-1)
    entropy = -(probabilities * probabilities.log()).sum(dim=-1).mean()
    # Label smoothing 0.1 over 2 classes: targets (0.05, 0.95).
    targets = torch.nn.functional.one_hot(labels, 2) * 0.9 + 0.05
    smoothed = -(targets * logits.log_softmax(dim=-1)).sum(dim=-1).mean()
    torch.testing.assert_close(losses["cross_entropy"], cross_entropy)
    torch.testing.assert_close(losses["label_smoothing"], smoothed)
    torch.testing.assert_close(losses["confidence_penalty"], cross_entropy - 0.1 * entropy)


def pretraining_config(**overrides) -> LSTMSentimentConfig:
    return small_config(**{"vocab_size": 300, "num_sampled_negatives": 64, "embedding_dropout": 0.0, **overrides})


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_neither_language_model_sees_the_word_it_predicts(cell_type):
    torch.manual_seed(0)
    model = LSTMForPreTraining(pretraining_config(cell_type=cell_type)).eval()
    input_ids = torch.randint(3, 300, (2, 12))
    input_ids[1, 9:] = 0  # the second row is a shorter review, padded
    changed = 5
    altered = input_ids.clone()
    altered[:, changed] = 3 + (input_ids[:, changed] - 3 + 1) % 297  # another word at one position
    with torch.no_grad():
        # The same words to predict, from inputs that differ at `changed`.
        original = model(input_ids=input_ids, labels=input_ids)
        after = model(input_ids=altered, labels=input_ids)
    forward_before, forward_after = original.forward_token_losses, after.forward_token_losses
    backward_before, backward_after = original.backward_token_losses, after.backward_token_losses
    # The forward model predicts words 1..changed before reading word `changed`; the backward one words changed..end.
    torch.testing.assert_close(forward_after[:, : changed + 1], forward_before[:, : changed + 1], rtol=0, atol=0)
    torch.testing.assert_close(backward_after[:, changed:], backward_before[:, changed:], rtol=0, atol=0)
    # Each model does read the word once past it: the test can see a leak.
    assert torch.all(forward_after[:, changed + 1] != forward_before[:, changed + 1])
    assert torch.all(backward_after[:, changed - 1] != backward_before[:, changed - 1])
    # Nothing is predicted at padding, from padding, or before the first / after the last word.
    assert torch.all(forward_before[:, 0] == 0) and torch.all(forward_before[1, 9:] == 0)
    assert torch.all(backward_before[0, -1] == 0) and torch.all(backward_before[1, 8:] == 0)
    assert torch.all(forward_before[1, 1:9] > 0) and torch.all(backward_before[1, :8] > 0)
    predicted = torch.cat([forward_before[forward_before > 0], backward_before[backward_before > 0]])
    torch.testing.assert_close(original.loss, predicted.mean())


def test_pretraining_loss_is_sampled_in_training_and_exact_in_evaluation():
    torch.manual_seed(0)
    input_ids = torch.randint(3, 300, (4, 16))
    sampled = LSTMForPreTraining(pretraining_config())
    exact = LSTMForPreTraining(pretraining_config(num_sampled_negatives=0))
    exact.load_state_dict(sampled.state_dict())
    evaluated = sampled.eval()(input_ids=input_ids, labels=input_ids).loss
    # Against 64 sampled words, the loss is lower than against all 300; the full softmax needs no sampling.
    assert sampled.train()(input_ids=input_ids, labels=input_ids).loss < evaluated
    torch.testing.assert_close(exact.train()(input_ids=input_ids, labels=input_ids).loss, evaluated)
    assert sampled.lm_head.decoder.weight is sampled.get_input_embeddings().weight


def test_pretraining_refuses_stacked_bidirectional_layers():
    with pytest.raises(ValueError, match="num_layers=1"):
        LSTMForPreTraining(pretraining_config(num_layers=2))
    LSTMForPreTraining(pretraining_config(num_layers=2, bidirectional=False))  # one direction, no leak


@pytest.mark.parametrize("tie_word_embeddings", [True, False])
def test_classifier_from_a_pretraining_folder_keeps_its_base_and_starts_a_new_head(tmp_path, tie_word_embeddings):
    torch.manual_seed(0)
    pretrained = LSTMForPreTraining(pretraining_config(tie_word_embeddings=tie_word_embeddings))
    with torch.no_grad():  # weights unlike any fresh initialisation
        for parameter in pretrained.parameters():
            parameter.add_(torch.randn_like(parameter))
    pretrained.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).auto_map == {
        "AutoConfig": "configuration_lstm.LSTMSentimentConfig",
        "AutoModel": "modeling_lstm.LSTMModel",
        "AutoModelForPreTraining": "modeling_lstm.LSTMForPreTraining",
        "AutoModelForSequenceClassification": "modeling_lstm.LSTMForSequenceClassification",
    }
    base_weights = {f"lstm.{name}": value for name, value in pretrained.base_model.state_dict().items()}

    classifier, loading = AutoModelForSequenceClassification.from_pretrained(
        tmp_path, num_labels=2, output_loading_info=True
    )
    assert loading["missing_keys"] == {"classifier.weight", "classifier.bias"}  # newly initialised: the head only
    assert not loading["mismatched_keys"] and not loading["error_msgs"]
    state = classifier.state_dict()
    assert {name for name in state if not name.startswith("classifier.")} == set(base_weights)
    for name, value in base_weights.items():
        assert torch.equal(state[name], value), name

    base = AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, LSTMModel)
    for name, value in base.state_dict().items():
        assert torch.equal(value, base_weights[f"lstm.{name}"]), name


def test_a_classifier_folder_saved_before_the_base_model_existed_still_loads(tokenizer, imdb_splits, tmp_path):
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config(pooling="attention", num_layers=2)).eval()
    model.save_pretrained(tmp_path)
    # The weight names of such folders: `embeddings.*`, `lstm.*` and `pooling.*` at the top, beside `classifier.*`.
    weights = load_file(tmp_path / "model.safetensors")
    old_names = {name.removeprefix("lstm.") if not name.startswith("classifier.") else name: value
                 for name, value in weights.items()}  # fmt: skip
    assert {"embeddings.weight", "lstm.forward_layers.1.weight_hh_l0", "pooling.attention.weight"} <= set(old_names)
    save_file(old_names, tmp_path / "model.safetensors", metadata={"format": "pt"})

    reloaded, loading = AutoModelForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not loading["missing_keys"] and not loading["unexpected_keys"]
    batch = tokenizer(imdb_splits["test"]["text"][:4], truncation=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_adversarial_training_adds_the_loss_at_embeddings_moved_along_the_gradient():
    torch.manual_seed(0)
    config = small_config(adversarial_epsilon=5.0, embedding_dropout=0.0, classifier_dropout=0.0)
    model = LSTMForSequenceClassification(config).train()
    input_ids, labels = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([1, 0])
    output = model(input_ids=input_ids, labels=labels)

    embeddings = model.lstm.embeddings(input_ids).detach().requires_grad_(True)
    clean = torch.nn.functional.cross_entropy(classify_embeddings(model, embeddings, input_ids), labels)
    (gradient,) = torch.autograd.grad(clean, embeddings)
    step = 5.0 * model.lstm.embeddings.weight.std() * gradient / gradient.flatten(1).norm(dim=1).view(-1, 1, 1)
    moved = torch.nn.functional.cross_entropy(classify_embeddings(model, embeddings + step, input_ids), labels)
    torch.testing.assert_close(output.loss, clean + moved)
    assert moved > clean  # the step goes uphill
    # Evaluation and inference are unchanged: the loss is the clean one.
    torch.testing.assert_close(model.eval()(input_ids=input_ids, labels=labels).loss, clean)


def classify_embeddings(model, embeddings, input_ids):
    mask = input_ids.ne(0)
    hidden = model.lstm.lstm(embeddings, mask.sum(dim=1))
    return model.classifier(model.lstm.pooling(hidden, mask))


def kl_by_hand(clean_logits, moved_logits):
    p = clean_logits.softmax(dim=-1)
    return (p * (p.log() - moved_logits.log_softmax(dim=-1))).sum(dim=-1).mean()


def test_virtual_adversarial_loss_is_the_kl_at_the_step_one_power_iteration_finds():
    config = small_config(
        virtual_adversarial_epsilon=5.0, virtual_adversarial_xi=0.1, embedding_dropout=0.0, classifier_dropout=0.0
    )
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(config).train()
    input_ids, labels = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([1, 0])
    unlabeled = torch.tensor([[11, 12, 13, 0, 0], [14, 15, 16, 17, 18], [19, 0, 0, 0, 0]])
    torch.manual_seed(1)
    output = model(input_ids=input_ids, labels=labels, unsupervised_input_ids=unlabeled)

    std = model.lstm.embeddings.weight.std()
    embeddings = model.lstm.embeddings(unlabeled).detach()
    clean = classify_embeddings(model, embeddings, unlabeled).detach()
    torch.manual_seed(1)  # the same random start as the model's
    mask = unlabeled.ne(0).unsqueeze(-1)
    start = torch.randn(*unlabeled.shape, config.embedding_dim) * mask
    start = (0.1 * std * start / start.flatten(1).norm(dim=1).view(-1, 1, 1)).requires_grad_(True)
    (gradient,) = torch.autograd.grad(
        kl_by_hand(clean, classify_embeddings(model, embeddings + start, unlabeled)), start
    )
    step = 5.0 * std * gradient / gradient.flatten(1).norm(dim=1).view(-1, 1, 1)
    virtual_adversarial = kl_by_hand(clean, classify_embeddings(model, embeddings + step, unlabeled))
    supervised = torch.nn.functional.cross_entropy(
        classify_embeddings(model, model.lstm.embeddings(input_ids), input_ids), labels
    )

    torch.testing.assert_close(output.loss, supervised + virtual_adversarial)
    assert virtual_adversarial > 0
    # The step moves only the reviews' own tokens: the gradient at padding is zero.
    assert torch.all(gradient[~mask.expand_as(gradient)] == 0)
    # In evaluation, or without unlabeled reviews, the loss is the supervised one alone.
    torch.testing.assert_close(model(input_ids=input_ids, labels=labels).loss, supervised)
    torch.testing.assert_close(
        model.eval()(input_ids=input_ids, labels=labels, unsupervised_input_ids=unlabeled).loss, supervised
    )


def test_distillation_loss_is_gold_cross_entropy_plus_weighted_t_squared_kl_on_every_review():
    torch.manual_seed(0)
    config = small_config(
        distillation_weight=0.7, distillation_temperature=2.0, embedding_dropout=0.0, classifier_dropout=0.0
    )
    model = LSTMForSequenceClassification(config).train()
    input_ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [11, 12, 13, 0]])
    labels = torch.tensor([1, -100, 0])  # the second review has no gold label (an unlabeled one)
    teacher = torch.tensor([[-2.0, 1.5], [0.3, -0.4], [1.0, 1.0]])
    output = model(input_ids=input_ids, labels=labels, teacher_logits=teacher)

    logits = classify_embeddings(model, model.lstm.embeddings(input_ids), input_ids)
    # By hand: mean cross-entropy over the two gold-labelled reviews, KL(p_T || q_T) summed over classes and averaged
    # over all three reviews, times T² and the weight.
    log_q = torch.log_softmax(logits, dim=-1)
    gold = -(log_q[0, 1] + log_q[2, 0]) / 2
    p_t, q_t = torch.softmax(teacher / 2.0, dim=-1), torch.softmax(logits / 2.0, dim=-1)
    kl = (p_t * (p_t.log() - q_t.log())).sum(dim=-1).mean()
    torch.testing.assert_close(output.loss, gold + 0.7 * 4.0 * kl)
    # Without a teacher, or with weight 0, the loss is the gold cross-entropy of a fully labelled batch.
    full = torch.tensor([1, 0, 0])
    plain = torch.nn.functional.cross_entropy(logits, full)
    torch.testing.assert_close(model(input_ids=input_ids, labels=full).loss, plain)
    model.config.distillation_weight = 0.0
    torch.testing.assert_close(model(input_ids=input_ids, labels=full, teacher_logits=teacher).loss, plain)
    # A batch of unlabeled reviews only: the distillation term alone.
    model.config.distillation_weight = 0.7
    unlabeled = model(input_ids=input_ids, labels=torch.full((3,), -100), teacher_logits=teacher).loss
    torch.testing.assert_close(unlabeled, 0.7 * 4.0 * kl)
    with pytest.raises(ValueError, match="distillation_temperature"):
        small_config(distillation_temperature=0.0)


def test_adversarial_training_moves_the_embeddings_along_the_distillation_loss():
    torch.manual_seed(0)
    config = small_config(
        adversarial_epsilon=5.0, distillation_weight=1.0, distillation_temperature=3.0,
        embedding_dropout=0.0, classifier_dropout=0.0,
    )  # fmt: skip
    model = LSTMForSequenceClassification(config).train()
    input_ids, labels = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([-100, 0])
    teacher = torch.tensor([[0.2, 2.0], [1.0, -1.0]])
    output = model(input_ids=input_ids, labels=labels, teacher_logits=teacher)

    def loss_at(embeddings):
        return model.distillation_loss(classify_embeddings(model, embeddings, input_ids), labels, teacher)

    embeddings = model.lstm.embeddings(input_ids).detach().requires_grad_(True)
    clean = loss_at(embeddings)
    (gradient,) = torch.autograd.grad(clean, embeddings)
    step = 5.0 * model.lstm.embeddings.weight.std() * gradient / gradient.flatten(1).norm(dim=1).view(-1, 1, 1)
    torch.testing.assert_close(output.loss, clean + loss_at(embeddings + step))


def test_adversarial_distillation_trains_under_bfloat16_autocast_into_float32_weights(tokenizer, imdb_splits):
    # What `--bf16 true` (with `--use_cpu true` on a CPU) makes Trainer do: the step's forward passes under autocast,
    # the adversarial gradient included, and the gradients land in the float32 weights.
    torch.manual_seed(0)
    config = small_config(
        adversarial_epsilon=5.0, distillation_weight=1.0, embedding_dropout=0.0, classifier_dropout=0.0
    )
    model = LSTMForSequenceClassification(config).train()
    batch = tokenizer(imdb_splits["train"]["text"][:4], truncation=True, padding=True, return_tensors="pt")
    labels = torch.tensor(imdb_splits["train"]["label"][:4])
    labels[1::2] = -100  # two reviews without a gold label, as the unlabeled ones of the transfer set
    teacher = torch.tensor([[0.2, 2.0], [1.0, -1.0], [-0.5, 0.5], [2.0, 0.0]])
    full_precision = model(**batch, labels=labels, teacher_logits=teacher).loss
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(**batch, labels=labels, teacher_logits=teacher)
    assert mixed.logits.dtype == torch.bfloat16
    torch.testing.assert_close(mixed.loss, full_precision, rtol=1e-2, atol=0)
    mixed.loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.dtype == torch.float32, name
        assert parameter.grad is not None and parameter.grad.dtype == torch.float32, name
        assert torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0, name


def test_entropy_minimization_adds_the_weighted_mean_entropy_of_the_unlabeled_predictions():
    config = small_config(entropy_minimization_weight=0.5, embedding_dropout=0.0, classifier_dropout=0.0)
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(config).train()
    input_ids, labels = torch.tensor([[5, 6, 7, 8]]), torch.tensor([1])
    unlabeled = torch.tensor([[11, 12, 13, 0], [14, 15, 16, 17]])
    output = model(input_ids=input_ids, labels=labels, unsupervised_input_ids=unlabeled)

    supervised = torch.nn.functional.cross_entropy(model.eval()(input_ids=input_ids).logits, labels)
    probabilities = model(input_ids=unlabeled).logits.softmax(dim=-1)
    entropy = -(probabilities * probabilities.log()).sum(dim=-1).mean()
    torch.testing.assert_close(output.loss, supervised + 0.5 * entropy)
    assert config.learns_from_unlabeled and not small_config().learns_from_unlabeled


def test_word_dropout_zeroes_whole_words_in_training_only():
    config = small_config(word_dropout=0.5, embedding_dropout=0.0, classifier_dropout=0.0, pooling="mean")
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(config)
    input_ids = torch.arange(5, 205).view(2, 100)
    seen = []
    model.lstm.lstm.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    model.train()(input_ids=input_ids)
    model.eval()(input_ids=input_ids)
    trained, evaluated = seen
    embedded = model.lstm.embeddings(input_ids).detach()
    dropped = trained.abs().sum(dim=-1).eq(0)
    assert 0.3 < dropped.float().mean() < 0.7  # about half of the words, each wholly
    torch.testing.assert_close(trained[~dropped], 2.0 * embedded[~dropped])  # the others scaled by 1 / (1 - 0.5)
    torch.testing.assert_close(evaluated, embedded)


def test_layer_norm_normalises_the_embeddings_and_the_recurrent_outputs(tokenizer, imdb_splits):
    torch.manual_seed(0)
    model = LSTMForSequenceClassification(small_config(layer_norm=True, pooling="attention")).eval()
    assert model.lstm.input_norm.normalized_shape == (16,) and model.lstm.output_norm.normalized_shape == (16,)
    reviews = [imdb_splits["test"]["text"][0], "A short, fine film."]
    batch = tokenizer(reviews, truncation=True, padding=True, return_tensors="pt")
    hidden = model.lstm(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(hidden[real].mean(dim=-1), torch.zeros(int(real.sum())), atol=1e-5, rtol=0)
    assert_padding_does_not_change_logits(model, tokenizer, reviews)

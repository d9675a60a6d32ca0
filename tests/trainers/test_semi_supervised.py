"""The unlabeled batches and the weight averaging that the semi-supervised LSTM recipe trains with."""

import numpy as np
import pytest
import torch
from datasets import DatasetDict
from transformers import TrainingArguments

from models import LSTMForSequenceClassification, LSTMSentimentConfig
from trainers.semi_supervised import TRAINING_WEIGHTS_FILE, UnlabeledBatches, WeightAveraging
from trainers.tokenizer import train_word_tokenizer
from trainers.training import tokenize_splits


@pytest.fixture(scope="module")
def unlabeled(imdb_dataset, tmp_path_factory):
    """200 real unlabeled IMDB reviews, tokenized as a classifier run tokenizes them, and the tokenizer."""
    from trainers.data import DatasetSource, load_unlabeled_reviews

    reviews = load_unlabeled_reviews(DatasetSource(dataset_name=imdb_dataset), seed=0, max_samples=200)
    tokenizer = train_word_tokenizer(reviews["text"], 3000, 2, 256)
    args = TrainingArguments(output_dir=str(tmp_path_factory.mktemp("unlabeled")), report_to="none")
    return tokenize_splits(DatasetDict(unlabeled=reviews), tokenizer, args)["unlabeled"], tokenizer


def review_rows(batches: UnlabeledBatches, batch: dict) -> set[tuple[int, ...]]:
    return {tuple(row[mask.bool()].tolist()) for row, mask in zip(batch["unsupervised_input_ids"],
                                                                  batch["unsupervised_attention_mask"])}  # fmt: skip


def test_unlabeled_batches_depend_only_on_seed_and_position(unlabeled):
    dataset, tokenizer = unlabeled
    first, second = (UnlabeledBatches(dataset, 16, tokenizer, seed=3) for _ in range(2))
    # A resumed run asks for position 17 first: it gets what an uninterrupted run got there.
    for position in (0, 1, 17, 12, 30):
        torch.testing.assert_close(first.batch(position), second.batch(position), rtol=0, atol=0)
    other_seed = UnlabeledBatches(dataset, 16, tokenizer, seed=4)
    assert not torch.equal(other_seed.batch(0)["unsupervised_input_ids"], first.batch(0)["unsupervised_input_ids"])


def test_a_pass_reads_each_review_once_in_length_grouped_batches(unlabeled):
    dataset, tokenizer = unlabeled
    batches = UnlabeledBatches(dataset, 16, tokenizer, seed=0)
    assert batches.batches_per_pass == 200 // 16
    indices = np.concatenate(batches.pass_batches(0))
    assert len(indices) == len(set(indices.tolist())) == 12 * 16
    # Within one batch the reviews have similar lengths: padding is far below that of a random batch.
    lengths = np.asarray(dataset["length"])
    grouped = np.mean([lengths[batch].max() - lengths[batch].min() for batch in batches.pass_batches(0)])
    random_batches = np.random.default_rng(0).permutation(len(lengths))[:192].reshape(12, 16)
    assert grouped < 0.5 * np.mean([lengths[batch].max() - lengths[batch].min() for batch in random_batches])
    # The next pass is another order of the same reviews.
    assert not np.array_equal(np.concatenate(batches.pass_batches(1)), indices)


def test_each_process_reads_its_own_shard(unlabeled):
    dataset, tokenizer = unlabeled
    shards = [UnlabeledBatches(dataset, 8, tokenizer, seed=0, process_index=rank, num_processes=2) for rank in (0, 1)]
    seen = [set().union(*(review_rows(shard, shard.batch(position)) for position in range(12))) for shard in shards]
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_too_few_unlabeled_reviews_for_a_batch_is_an_error(unlabeled):
    dataset, tokenizer = unlabeled
    with pytest.raises(ValueError, match="cannot fill a batch of 500"):
        UnlabeledBatches(dataset, 500, tokenizer, seed=0)


def small_model() -> LSTMForSequenceClassification:
    torch.manual_seed(0)
    return LSTMForSequenceClassification(LSTMSentimentConfig(vocab_size=50, embedding_dim=4, hidden_size=3))


def test_weight_averaging_is_the_exponential_moving_average_with_its_warm_up(tmp_path):
    model = small_model()
    averaging = WeightAveraging(decay=0.9)
    averaging.on_train_begin(None, None, None, model=model)
    expected = model.classifier.weight.detach().clone()
    for step in range(1, 40):
        with torch.no_grad():
            model.classifier.weight.add_(torch.randn_like(model.classifier.weight))
        averaging.on_step_end(None, type("State", (), {"global_step": step})(), None, model=model)
        decay = min(0.9, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * model.classifier.weight.detach()
    trained = model.classifier.weight.detach().clone()
    with averaging.swapped_in(model):
        torch.testing.assert_close(model.classifier.weight, expected)
        averaging.save_training_weights(model, tmp_path)
    torch.testing.assert_close(model.classifier.weight, trained, rtol=0, atol=0)
    assert (tmp_path / TRAINING_WEIGHTS_FILE).is_file()


def test_a_checkpoint_gives_back_both_the_averages_and_the_training_weights(tmp_path):
    model = small_model()
    averaging = WeightAveraging(decay=0.5)
    averaging.on_train_begin(None, None, None, model=model)
    with torch.no_grad():
        model.classifier.weight.add_(1.0)
    averaging.on_step_end(None, type("State", (), {"global_step": 100})(), None, model=model)
    trained = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    with averaging.swapped_in(model):
        averaged = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
        model.save_pretrained(tmp_path)  # what a checkpoint's model.safetensors holds
        averaging.save_training_weights(model, tmp_path)

    resumed_model = LSTMForSequenceClassification.from_pretrained(tmp_path)
    resumed = WeightAveraging(decay=0.5)
    resumed.resume(resumed_model, tmp_path)
    for name, parameter in resumed_model.named_parameters():
        torch.testing.assert_close(parameter, trained[name], rtol=0, atol=0)
    with resumed.swapped_in(resumed_model):
        for name, parameter in resumed_model.named_parameters():
            torch.testing.assert_close(parameter, averaged[name], rtol=0, atol=0)


def test_a_checkpoint_saved_without_averaging_cannot_resume_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=TRAINING_WEIGHTS_FILE):
        WeightAveraging(decay=0.9).resume(small_model(), tmp_path)
    with pytest.raises(ValueError, match="decay"):
        WeightAveraging(decay=1.0)

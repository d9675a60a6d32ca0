import pytest
from transformers import TrainingArguments

from trainers.tokenizer import train_word_tokenizer
from trainers.training import keep_head_and_tail, tokenize_splits


def test_head_and_tail_keep_special_tokens_at_both_ends():
    encoding = {"input_ids": [101, 1, 2, 3, 4, 5, 6, 7, 8, 102], "token_type_ids": [0] * 10}
    cut = keep_head_and_tail(encoding, max_length=6, head_tokens=3)
    assert cut == {"input_ids": [101, 1, 2, 7, 8, 102], "token_type_ids": [0] * 6}
    assert keep_head_and_tail(encoding, max_length=10, head_tokens=3) == encoding
    with pytest.raises(ValueError, match="head_tokens must be between 1 and max_length - 1"):
        keep_head_and_tail(encoding, max_length=4, head_tokens=4)


def test_tokenize_splits_with_head_and_tail_on_real_reviews(imdb_splits, tmp_path):
    tokenizer = train_word_tokenizer(imdb_splits["train"]["text"], vocab_size=5000, min_frequency=2, model_max_length=64)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    head_tail = tokenize_splits(imdb_splits, tokenizer, args, head_tokens=16)["test"]
    end_cut = tokenize_splits(imdb_splits, tokenizer, args)["test"]
    long_rows = 0
    for text, kept, cut in zip(imdb_splits["test"]["text"], head_tail["input_ids"], end_cut["input_ids"]):
        whole = tokenizer(text)["input_ids"]
        if len(whole) <= 64:
            assert kept == cut == whole
            continue
        long_rows += 1
        assert len(kept) == len(cut) == 64
        assert kept == whole[:16] + whole[-48:]  # the review's last words survive
        assert cut == whole[:64]
    assert long_rows > 100
    assert head_tail["length"] == [len(ids) for ids in head_tail["input_ids"]]

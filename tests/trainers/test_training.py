import pytest
from transformers import AutoTokenizer, TrainingArguments

from models.tokenization_truncation import cut_positions
from trainers.tokenizer import train_word_tokenizer, truncating_tokenizer
from trainers.training import tokenize_splits


def test_cut_positions_keep_the_start_and_the_end():
    assert cut_positions(10, max_length=6, kept_from_start=3) == [0, 1, 2, 7, 8, 9]
    assert cut_positions(5, max_length=6, kept_from_start=3) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("truncation, head_tokens", [("head", None), ("tail", None), ("head_tail", 16)])
def test_tokenize_splits_cut_real_reviews_by_the_tokenizers_rule(imdb_splits, tmp_path, truncation, head_tokens):
    learned = train_word_tokenizer(imdb_splits["train"]["text"], vocab_size=5000, min_frequency=2, model_max_length=64)
    tokenizer = truncating_tokenizer(learned, 64, truncation, head_tokens)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    tokenized = tokenize_splits(imdb_splits, tokenizer, args)["test"]
    long_rows = 0
    for text, kept in zip(imdb_splits["test"]["text"], tokenized["input_ids"]):
        whole = tokenizer(text)["input_ids"]
        if len(whole) <= 64:
            assert kept == whole
            continue
        long_rows += 1
        expected = {"head": whole[:64], "tail": whole[-64:], "head_tail": whole[:16] + whole[-48:]}[truncation]
        assert kept == expected
    assert long_rows > 100
    assert tokenized["length"] == [len(ids) for ids in tokenized["input_ids"]]


@pytest.mark.parametrize("truncation, head_tokens", [("head", None), ("tail", None), ("head_tail", 32)])
def test_an_encoders_special_tokens_survive_every_cut(minilm_path, imdb_splits, truncation, head_tokens):
    tokenizer = truncating_tokenizer(AutoTokenizer.from_pretrained(minilm_path), 128, truncation, head_tokens)
    long_review = max(imdb_splits["test"]["text"], key=len)
    whole = tokenizer(long_review)["input_ids"]
    batch = tokenizer([long_review, "Short."], truncation=True, padding=True, return_tensors="pt")
    kept = batch["input_ids"][0].tolist()
    assert len(whole) > 128 and len(kept) == 128
    assert kept[0] == tokenizer.cls_token_id and kept[-1] == tokenizer.sep_token_id
    expected = {
        "head": whole[:127] + whole[-1:],  # [SEP] kept
        "tail": whole[:1] + whole[-127:],  # [CLS] kept
        "head_tail": whole[:32] + whole[-96:],
    }
    assert kept == expected[truncation]
    assert batch["attention_mask"][1].sum() == len(tokenizer("Short.")["input_ids"])


def test_an_impossible_cut_is_refused(minilm_path):
    encoder = AutoTokenizer.from_pretrained(minilm_path)
    with pytest.raises(ValueError, match="leaves no room for the text"):
        truncating_tokenizer(encoder, 64, "head_tail", 70)
    for keeps_nothing_of_one_end in (1, 63):  # [CLS] alone from the start, or [SEP] alone from the end
        with pytest.raises(ValueError, match="leaves no room for the text"):
            truncating_tokenizer(encoder, 64, "head_tail", keeps_nothing_of_one_end)
    with pytest.raises(ValueError, match="head_tokens is set with truncation='head_tail' and only then"):
        truncating_tokenizer(encoder, 64, "tail", 8)

from transformers import AutoTokenizer

from trainers.tokenizer import PAD_TOKEN, UNK_TOKEN, train_word_tokenizer


def tokens(tokenizer, text):
    return tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])


def test_normalises_case_html_breaks_and_splits_punctuation(imdb_splits):
    tokenizer = train_word_tokenizer(
        imdb_splits["train"]["text"], vocab_size=20000, min_frequency=1, model_max_length=64
    )
    assert tokens(tokenizer, "GREAT Movie!!<br /><br />I didn't like the ending.") == [
        "great", "movie", "!", "!", "i", "didn't", "like", "the", "ending", ".",
    ]  # fmt: skip
    assert tokens(tokenizer, "It was<br/>bad") == ["it", "was", "bad"]
    assert "<br" not in tokenizer.get_vocab() and "br" not in tokenizer.get_vocab()


def test_special_tokens_unknown_words_and_vocabulary_limits(imdb_splits):
    texts = imdb_splits["train"]["text"]
    tokenizer = train_word_tokenizer(texts, vocab_size=500, min_frequency=1, model_max_length=64)
    assert tokenizer.convert_tokens_to_ids([PAD_TOKEN, UNK_TOKEN]) == [0, 1]
    assert tokenizer.pad_token_id == 0 and tokenizer.unk_token_id == 1
    assert len(tokenizer) == 500
    assert tokens(tokenizer, "the zyzzyvaqwerty film") == ["the", UNK_TOKEN, "film"]

    rare_tokenizer = train_word_tokenizer(texts, vocab_size=100000, min_frequency=5, model_max_length=64)
    counts = {}
    for text in texts:
        for token in tokens(rare_tokenizer, text):
            counts[token] = counts.get(token, 0) + 1
    assert all(count >= 5 for token, count in counts.items() if token != UNK_TOKEN)
    assert counts[UNK_TOKEN] > 0


def test_truncates_to_model_max_length_and_reloads_without_project_code(imdb_splits, tmp_path):
    tokenizer = train_word_tokenizer(
        imdb_splits["train"]["text"], vocab_size=5000, min_frequency=2, model_max_length=32
    )
    long_review = " ".join(imdb_splits["test"]["text"][:3])
    assert len(tokenizer(long_review)["input_ids"]) > 32
    truncated = tokenizer(long_review, truncation=True)["input_ids"]
    assert truncated == tokenizer(long_review)["input_ids"][:32]

    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.model_max_length == 32
    assert reloaded.model_input_names == ["input_ids", "attention_mask"]
    assert reloaded(long_review, truncation=True)["input_ids"] == truncated
    padded = reloaded(["a good film", long_review], truncation=True, padding=True)
    assert padded["input_ids"][0][-1] == 0 and padded["attention_mask"][0][-1] == 0

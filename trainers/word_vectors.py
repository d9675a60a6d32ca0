"""Word vectors learned from the unlabeled reviews: skip-gram with negative sampling (word2vec, trained by gensim)
over the pretraining corpus, written as an `LSTMModel` folder whose embeddings a classifier starts from
(`--pretrained_layers embeddings`), as it starts from a language-model pretraining folder.

The corpus and vocabulary are language-model pretraining's (`trainers.pretraining`): the labeled training reviews
without the classifier's validation reviews, plus the unlabeled split; never the test split. Word vectors need no
held-out reviews (`lm_validation_samples` 0 reads the whole unlabeled split). gensim is used because it trains the
20M tokens of IMDB in minutes on two cores, where a PyTorch loop of the same objective is many times slower.
"""

import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from models import LSTMModel, LSTMSentimentConfig

from .arguments import WordVectorArguments
from .run_folder import unfinished_folder, write_recipe, write_results
from .training import software_versions

# Words whose nearest neighbours the results list.
PROBE_WORDS = ("excellent", "boring", "not")


def corpus_words(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> list[list[str]]:
    """Each review as the tokenizer's words (the same string objects for the same word, to keep memory low)."""
    words = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    encoded = tokenizer(list(texts), truncation=False, add_special_tokens=False, verbose=False)["input_ids"]
    return [[words[token] for token in ids] for ids in encoded]


def train_word_vectors(
    texts: list[str], tokenizer: PreTrainedTokenizerBase, args: WordVectorArguments, seed: int
) -> tuple[torch.Tensor, dict]:
    """The embedding matrix (one row per tokenizer id) learned by skip-gram with negative sampling on `texts`, and
    what the training measured. `[PAD]` stays zero; a word the corpus never shows (a special token) gets a random
    vector of the learned vectors' scale."""
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    class Progress(CallbackAny2Vec):
        def __init__(self):
            self.bar = tqdm(total=args.word2vec_epochs, desc="word2vec epochs", unit="epoch")

        def on_epoch_end(self, model):
            self.bar.update(1)

    workers = args.workers or len(os.sched_getaffinity(0))
    started = time.perf_counter()
    sentences = corpus_words(texts, tokenizer)
    tokenized = time.perf_counter()
    model = Word2Vec(
        sentences=sentences,
        vector_size=args.embedding_dim,
        window=args.window,
        negative=args.negative,
        sample=args.subsampling,
        sg=1,
        min_count=1,  # the tokenizer's vocabulary already dropped rare words (they are [UNK])
        epochs=args.word2vec_epochs,
        workers=workers,
        seed=seed,
        callbacks=[Progress()],
    )
    seconds = time.perf_counter() - tokenized
    vectors = model.wv
    learned = np.stack([vectors[word] for word in vectors.index_to_key])
    generator = np.random.default_rng(seed)
    matrix = generator.normal(0.0, learned.std(), size=(len(tokenizer), args.embedding_dim)).astype(np.float32)
    words = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    found = [index for index, word in enumerate(words) if word in vectors.key_to_index]
    matrix[found] = vectors[[words[index] for index in found]]
    matrix[tokenizer.pad_token_id] = 0.0
    learned_std = float(matrix.std())
    if args.vector_std is not None:
        matrix *= args.vector_std / learned_std
    statistics = {
        "learned_vector_std": learned_std,
        "vector_std": float(matrix.std()),
        "train_runtime_seconds": time.perf_counter() - started,
        "word2vec_seconds": seconds,
        "word2vec_workers": workers,
        "words_with_vectors": len(found),
        "corpus_tokens": int(sum(len(sentence) for sentence in sentences)),
        "corpus_reviews": len(sentences),
    }
    embeddings = torch.from_numpy(matrix)
    # A check a reader can make at a glance: the closest words to a clear verdict should share it.
    statistics["nearest_words"] = {
        word: nearest_words(embeddings, tokenizer, word, 8)
        for word in PROBE_WORDS
        if tokenizer.convert_tokens_to_ids(word) != tokenizer.unk_token_id
    }
    return embeddings, statistics


def nearest_words(embeddings: torch.Tensor, tokenizer: PreTrainedTokenizerBase, word: str, count: int) -> list[str]:
    """The `count` words whose vectors are closest (cosine) to `word`'s: a check that the vectors mean something."""
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    index = tokenizer.convert_tokens_to_ids(word)
    if index == tokenizer.unk_token_id:
        raise ValueError(f"{word!r} is not in the vocabulary.")
    order = (unit @ unit[index]).argsort(descending=True).tolist()
    return [tokenizer.convert_ids_to_tokens(other) for other in order if other != index][:count]


def word_vector_model(embeddings: torch.Tensor, tokenizer: PreTrainedTokenizerBase) -> LSTMModel:
    """An `LSTMModel` whose embeddings are the word vectors; its LSTM is untrained (a classifier takes the embeddings
    only). `AutoModel` loads it, `AutoModelForSequenceClassification` starts a classifier from it."""
    config = LSTMSentimentConfig(
        vocab_size=embeddings.size(0),
        embedding_dim=embeddings.size(1),
        pad_token_id=tokenizer.pad_token_id,
        embeddings_only=True,
    )
    model = LSTMModel(config)
    model.get_input_embeddings().weight.data.copy_(embeddings)
    return model


def save_word_vectors(
    embeddings: torch.Tensor, tokenizer: PreTrainedTokenizerBase, output_dir: str, recipe: dict, results: dict
) -> Path:
    """Writes the run's folder (`unfinished_folder`; `finish_run` completes it): the model (`word_vector_model`),
    the tokenizer, `training_recipe.yaml` and `all_results.json` (with the parameter count and software versions)."""
    folder = unfinished_folder(output_dir)
    model = word_vector_model(embeddings, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    results.update(num_parameters=model.num_parameters(), num_processes=1, software_versions=software_versions())
    write_recipe(folder, recipe)
    write_results(folder, results)
    return folder

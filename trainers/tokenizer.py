"""Tokenizers: the word-level one learned from the training reviews (for models whose embeddings start from
scratch), and the truncation every approach's saved tokenizer applies (`truncating_tokenizer`)."""

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
from tokenizers.trainers import WordLevelTrainer
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from models import TruncatingTokenizer
from models.tokenization_truncation import TRUNCATION_SIDES

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
# Ends each review where language-model pretraining packs reviews one after another.
SEP_TOKEN = "[SEP]"
# A word, with inner apostrophes kept ("didn't", "director's"), or one punctuation mark ("!!" is two tokens).
WORD_OR_PUNCTUATION = r"\w+(?:'\w+)*|[^\w\s]"


def train_word_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int, model_max_length: int, sep_token: str | None = None
) -> PreTrainedTokenizerFast:
    """Learns a lower-cased word-level vocabulary from `texts`.

    Ids 0 and 1 are `[PAD]` and `[UNK]`, then `sep_token` if given (the tokenizer's `sep_token`, never added to a
    text by the tokenizer itself); words seen fewer than `min_frequency` times, or beyond the `vocab_size`
    most frequent, become `[UNK]`. HTML line breaks (`<br />`, common in IMDB) become spaces. The result saves as
    plain `tokenizer.json` / `tokenizer_config.json` that `AutoTokenizer` loads without this project, and truncates
    to `model_max_length` when called with `truncation=True`.
    """
    if vocab_size < 3:
        raise ValueError(f"vocab_size must leave room for [PAD], [UNK] and a word, got {vocab_size}.")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be at least 1, got {min_frequency}.")
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(r"<br\s*/?>"), " "), normalizers.NFKC(), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_OR_PUNCTUATION), behavior="isolated")]
    )
    trainer = WordLevelTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD_TOKEN, UNK_TOKEN, *([sep_token] if sep_token else [])],
        show_progress=True,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        sep_token=sep_token,
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )


# The special tokens a tokenizer may name, carried over when it becomes a `TruncatingTokenizer`.
SPECIAL_TOKEN_NAMES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token", "bos_token", "eos_token")


def truncating_tokenizer(
    tokenizer: PreTrainedTokenizerBase, max_length: int, truncation: str, head_tokens: int | None
) -> TruncatingTokenizer:
    """`tokenizer` (any `tokenizers`-backed one) as a `TruncatingTokenizer` that cuts to `max_length` tokens by the
    run's rule. Training tokenizes with it and saves it in the model folder, so every door that loads the folder
    (pipeline, AutoTokenizer, the predictor, the server, the demo) cuts a review exactly as training and the reported
    test figures did. An impossible rule (no room left for the text) is refused here, before any training."""
    if not tokenizer.is_fast:
        raise ValueError(f"A fast (`tokenizers`) tokenizer is needed; {tokenizer.name_or_path} has none.")
    special_tokens = {
        name: getattr(tokenizer, name) for name in SPECIAL_TOKEN_NAMES if getattr(tokenizer, name, None) is not None
    }
    cutting = TruncatingTokenizer(
        tokenizer_object=Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()),
        model_max_length=max_length,
        padding_side="right",
        truncation_side=TRUNCATION_SIDES.get(truncation, "right"),
        model_input_names=list(tokenizer.model_input_names),
        truncation=truncation,
        head_tokens=head_tokens,
        **special_tokens,
    )
    cutting.kept_from_start(max_length)  # validates the rule against this tokenizer's special tokens
    return cutting

"""The verbalizer's tokenizer and cached encoder features: what `scripts/train_verbalizer.py` and the tests share.

The tokenizer saved with a verbalizer model is the encoder's own, with a post-processor that appends the template
after each review: `[CLS] review template [MASK]? [SEP]`, so any caller (`pipeline` included) passing raw text gets
the template. It is a `TruncatingTokenizer`: it cuts a long row to the model's `max_length` (head, tail, or head and
tail of the review), counting the template among the trailing special tokens, so the template is never cut. The
model applies the same cut to rows that reach it longer than that (a caller that did not truncate).

A frozen encoder gives the same features every epoch, so each split is encoded once and cached on disk by
`datasets`, under a fingerprint that covers everything the features depend on: the split's own rows, the encoder's
weights and configuration, the tokenizer with its template, and the model's cutting (max length, truncation).
"""

import hashlib
import json
import time

import torch
from datasets import Dataset, DatasetDict
from tokenizers import Tokenizer, processors
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast, TrainingArguments

from inference.batching import length_sorted_batches
from models import TruncatingTokenizer, VerbalizerConfig, VerbalizerForSequenceClassification
from models.tokenization_truncation import special_token_layout

from .tokenizer import SPECIAL_TOKEN_NAMES, truncating_tokenizer

TEMPLATE_TOKEN_NAME = "<verbalizer-template>"
# Reviews encoded per `datasets.map` call, as a multiple of the encoding batch size: each call sorts its reviews by
# length so that a batch pads to similar lengths, and the progress bar moves once per call.
SORTING_WINDOW_BATCHES = 8


def single_token_id(tokenizer: PreTrainedTokenizerBase, word: str) -> int:
    """The id of `word`, which must be one token of the vocabulary (label words are scored as one token)."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = tokenizer.convert_ids_to_tokens(ids)
        raise ValueError(
            f"Label word {word!r} is {len(ids)} tokens {pieces} for this encoder; choose single-token words."
        )
    return ids[0]


def template_tokenizer(
    encoder_tokenizer: PreTrainedTokenizerBase, template_ids: list[int], config: VerbalizerConfig
) -> TruncatingTokenizer:
    """The encoder's tokenizer with `template_ids` appended after every text by its post-processor, cutting a long
    row to the model's `max_length` by its `truncation` (the template is never cut: it sits after the review and
    counts among the trailing special tokens)."""
    if not encoder_tokenizer.is_fast:
        raise ValueError(
            f"The verbalizer needs a fast (`tokenizers`) tokenizer; {encoder_tokenizer.name_or_path} has none."
        )
    leading, trailing = special_token_layout(encoder_tokenizer)
    special_tokens = {
        name: getattr(encoder_tokenizer, name)
        for name in SPECIAL_TOKEN_NAMES
        if getattr(encoder_tokenizer, name, None) is not None
    }
    with_template = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(encoder_tokenizer.backend_tokenizer.to_str()),
        model_input_names=["input_ids", "attention_mask"],
        **special_tokens,
    )
    backend = with_template.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()

    def special(token_id: int) -> tuple[str, int]:
        return encoder_tokenizer.convert_ids_to_tokens(token_id), token_id

    template_entry = {
        "id": TEMPLATE_TOKEN_NAME,
        "ids": template_ids,
        "tokens": encoder_tokenizer.convert_ids_to_tokens(template_ids),
    }
    pieces = [special(i)[0] for i in leading] + ["$A", TEMPLATE_TOKEN_NAME] + [special(i)[0] for i in trailing]
    backend.post_processor = processors.TemplateProcessing(
        single=" ".join(pieces),
        special_tokens=[special(i) for i in leading + trailing] + [template_entry],
    )
    head_tokens = config.head_tokens if config.truncation == "head_tail" else None
    return truncating_tokenizer(with_template, config.max_length, config.truncation, head_tokens)


def build_verbalizer(
    hyperparameters: dict, max_length: int
) -> tuple[VerbalizerForSequenceClassification, PreTrainedTokenizerFast]:
    """A verbalizer model with the pretrained weights of `hyperparameters["encoder_name_or_path"]`, and its tokenizer.

    The template's ids, the label words' ids and the special-token layout are read from the encoder's tokenizer and
    stored in the config, so the saved model checks its inputs and needs no tokenizer logic of its own.
    """
    encoder = hyperparameters["encoder_name_or_path"]
    encoder_tokenizer = AutoTokenizer.from_pretrained(encoder)
    leading, trailing = special_token_layout(encoder_tokenizer)
    template_ids = encoder_tokenizer(hyperparameters["template"], add_special_tokens=False)["input_ids"]
    label_word_ids = None
    if hyperparameters.get("head_type") == "mlm":
        if encoder_tokenizer.mask_token_id is None:
            raise ValueError(f"The `mlm` head needs a mask token; the tokenizer of {encoder} has none.")
        template_ids = template_ids + [encoder_tokenizer.mask_token_id]
        label_words = hyperparameters.get("label_words", VerbalizerConfig.label_words)
        label_word_ids = [single_token_id(encoder_tokenizer, word) for word in label_words]
    config = VerbalizerConfig(
        **hyperparameters,
        encoder_config=AutoConfig.from_pretrained(encoder),
        max_length=max_length,
        template_token_ids=template_ids,
        label_word_ids=label_word_ids,
        leading_special_tokens=len(leading),
        trailing_special_tokens=len(trailing),
    )
    tokenizer = template_tokenizer(encoder_tokenizer, template_ids, config)
    return VerbalizerForSequenceClassification.from_encoder(config), tokenizer


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers, names included: two encoders hash alike only if equal."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def feature_fingerprint(
    split: Dataset, model: VerbalizerForSequenceClassification, tokenizer: PreTrainedTokenizerBase, encoder_digest: str
) -> str:
    """The cache key of a split's features: it changes with the rows, the encoder, the tokenizer and template,
    the maximum length and the truncation, so a cached file is reused only when it would be recomputed the same."""
    config = model.config
    recipe = {
        "split": split._fingerprint,
        "encoder_weights": encoder_digest,
        "encoder_config": config.encoder_config.to_json_string(use_diff=False),
        # Parsed, so that key order (the Rust side serialises some maps in random order) does not change the hash.
        "tokenizer": json.loads(tokenizer.backend_tokenizer.to_str()),
        "tokenizer_max_length": tokenizer.model_max_length,
        "template_token_ids": config.template_token_ids,
        "max_length": config.max_length,
        "truncation": config.truncation,
        "kept_from_start": config.kept_from_start,
        "trailing_special_tokens": config.trailing_special_tokens,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]


def encode_split(
    split: Dataset,
    model: VerbalizerForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int,
    fingerprint: str,
    name: str,
) -> tuple[Dataset, int]:
    """`token_state`, `mean_state` and `label` for every review of `split`, computed once and cached by `datasets`,
    and the number of reviews actually encoded (0 when the cache had them all).

    Both representations are kept, so choosing the head's `representation` never re-encodes. Within each window of
    `SORTING_WINDOW_BATCHES` batches the reviews are sorted by length, so batches pad little; the encoder runs
    under `torch.inference_mode()` (no autograd bookkeeping) in eval mode, on the model's device.
    """
    encoded_reviews = 0

    def encode_window(batch: dict) -> dict:
        nonlocal encoded_reviews
        encoded_reviews += len(batch["text"])
        input_ids = tokenizer(batch["text"], truncation=True)["input_ids"]
        token_states: list = [None] * len(input_ids)
        mean_states: list = [None] * len(input_ids)
        for indices in length_sorted_batches([len(ids) for ids in input_ids], batch_size):
            padded = tokenizer.pad({"input_ids": [input_ids[i] for i in indices]}, return_tensors="pt").to(
                model.device
            )
            with torch.inference_mode():
                features = model.encode(padded["input_ids"], padded["attention_mask"])
            for row, index in enumerate(indices):
                token_states[index] = features["token_state"][row].float().cpu().numpy()
                mean_states[index] = features["mean_state"][row].float().cpu().numpy()
        return {"token_state": token_states, "mean_state": mean_states}

    model.eval()
    features = split.map(
        encode_window,
        batched=True,
        batch_size=batch_size * SORTING_WINDOW_BATCHES,
        remove_columns=[column for column in split.column_names if column != "label"],
        new_fingerprint=fingerprint,
        desc=f"Encoding {name} reviews",
    )
    return features, encoded_reviews


def encode_splits(
    splits: DatasetDict,
    model: VerbalizerForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int,
    args: TrainingArguments,
) -> tuple[DatasetDict, dict[str, float]]:
    """Encodes (or reads from the cache) every split; returns the features and encoding reviews/s per split.

    A split read from the cache reports no speed, since reading a file says nothing about the encoder. Under several
    processes the main process encodes first and the others read its cache.
    """
    if batch_size < 1:
        raise ValueError(f"The encoding batch size must be at least 1, got {batch_size}.")
    model.to(args.device)
    encoder_digest = weights_digest(model.encoder)
    features, timings = {}, {}
    with args.main_process_first(desc="encoding features"):
        for name, split in splits.items():
            fingerprint = feature_fingerprint(split, model, tokenizer, encoder_digest)
            started = time.perf_counter()
            features[name], encoded_reviews = encode_split(split, model, tokenizer, batch_size, fingerprint, name)
            seconds = time.perf_counter() - started
            if encoded_reviews:
                timings[f"{name}_encoding_seconds"] = seconds
                timings[f"{name}_encoding_reviews_per_second"] = encoded_reviews / seconds
    return DatasetDict(features).with_format("torch"), timings

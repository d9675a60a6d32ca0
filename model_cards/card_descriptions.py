"""What a model card says of the model in prose, from the folder's `config.json` and `training_recipe.yaml`: its
architecture (one description per approach of trainers/approaches.py), the model it started from, and how it cuts a
long review. model_cards/model_card.py puts it in the card."""

import json
from pathlib import Path

from transformers.tokenization_utils_base import TOKENIZER_CONFIG_FILE

from inference.predictor import CHUNK_OVERLAP_KEY
from trainers.approaches import approach_of
from trainers.distillation import teacher_name

PRETRAINING_ARCHITECTURE = "LSTMForPreTraining"


def is_pretraining(config: dict) -> bool:
    """Whether `config.json` is that of a language-model pretraining folder (scripts/pretrain.py)."""
    return config.get("architectures") == [PRETRAINING_ARCHITECTURE]


def long_review_reading(folder: str | Path, recipe: dict) -> dict:
    """How the folder reads a review longer than its `max_length`: the cut its tokenizer saves (`truncation`,
    `head_tokens`; the run's recipe for a folder whose tokenizer does not record it), and the overlap of the windows
    the project's doors read it in instead (`chunk_overlap`, None if it has none), as
    scripts/benchmark_long_reviews.py --write_best may have set them after training."""
    path = Path(folder) / TOKENIZER_CONFIG_FILE
    saved = json.loads(path.read_text()) if path.is_file() else {}
    source = saved if "truncation" in saved else recipe
    return {
        "truncation": source.get("truncation", "head"),
        "head_tokens": source.get("head_tokens"),
        "chunk_overlap": saved.get(CHUNK_OVERLAP_KEY),
    }


def describe_cut(reading: dict) -> str:
    """What a review longer than the model's `max_length` keeps, in words, from its `truncation` and `head_tokens`
    (a recipe, or `long_review_reading`)."""
    truncation = reading.get("truncation", "head")
    if truncation == "head_tail":
        return f"its first {reading['head_tokens']} tokens and its end"
    return {"head": "its start", "tail": "its end"}[truncation]


def base_model_hub_id(recipe: dict) -> str | None:
    """The Hub id of the model a run started from: `base_model_hub_id`, else the model's name if that is not a local
    folder; `None` for a model learned from scratch or one known only by a local path."""
    key = approach_of(recipe).base_model_key
    if key is None:
        return None
    if recipe.get("base_model_hub_id"):
        return recipe["base_model_hub_id"]
    return recipe[key] if not Path(recipe[key]).exists() else None


def base_model_name(recipe: dict) -> str:
    """How the card names the model a run started from: its Hub id, else the local folder's name (never a path of
    the training machine)."""
    key = approach_of(recipe).base_model_key
    return base_model_hub_id(recipe) or f"a local folder named {Path(recipe[key]).name!r}"


def describe_lstm(config: dict, recipe: dict) -> str:
    direction = "bidirectional" if config["bidirectional"] else "unidirectional"
    recurrent = (
        f"{direction} {config['cell_type'].upper()} ({config['num_layers']} layer(s), {config['hidden_size']} "
        f"units per direction) over {config['embedding_dim']}-dimensional word embeddings"
    )
    if is_pretraining(config):
        output = "the input embeddings" if config["tie_word_embeddings"] else "an output matrix"
        return (
            f"Forward and backward language models, as in ELMo, on a {recurrent}: each direction's state, "
            f"projected to the embedding size, scores the next (or previous) word against {output}, trained with "
            f"a sampled softmax of {config['num_sampled_negatives']:,} negatives; a word-level vocabulary of "
            f"{config['vocab_size']:,} entries learned on the pretraining reviews."
        )
    folder = recipe.get("pretrained_model_name_or_path")
    pretrained = bool(folder)
    # A distillation student names its starting folder by path only (its base model is its teachers).
    source = (
        base_model_name(recipe)
        if approach_of(recipe).base_model_key
        else f"a local folder named {Path(folder or '').name!r}"
    )
    start = "learned from scratch"
    if pretrained and recipe.get("pretrained_layers") == "embeddings":
        start = f"its embeddings taken from a pretraining run ({source}), the LSTM from scratch"
    elif pretrained:
        start = f"pretrained as language models ({source})"
    vocabulary = "the pretrained model's" if pretrained else "learned on the training reviews"
    adversarial = (
        f", trained with adversarial perturbations of the embeddings (epsilon {config['adversarial_epsilon']})"
        if config.get("adversarial_epsilon")
        else ""
    )
    return (
        f"A {recurrent}, {start}, {config['pooling'].replace('_', ' and ')} pooling over the review's tokens "
        f"and a linear classifier{adversarial}; a word-level vocabulary of {config['vocab_size']:,} entries, "
        f"{vocabulary}."
    )


def describe_distilled(config: dict, recipe: dict) -> str:
    named = [repr(teacher_name(teacher)) for teacher in recipe.get("teachers", [])]  # a local folder by its name
    folds = recipe.get("baseline_teacher_folds", 1)
    out_of_fold = f" (each labelled by a fit on the other {folds - 1} of {folds} folds)" if folds > 1 else ""
    fitted = [
        f"an n-gram baseline ({name}) fitted on the same training reviews{out_of_fold}"
        for name in recipe.get("baseline_teachers", [])
    ]
    teachers = ", ".join(named + fitted)
    unlabeled = " and the dataset's unlabeled reviews" if recipe.get("transfer_unlabeled", True) else ""
    return (
        f"{describe_lstm(config, recipe)} Distilled from {teachers}: trained on the gold labels of the training "
        f"reviews and on the teachers' class probabilities for those{unlabeled} (temperature "
        f"{config['distillation_temperature']}, weight {config['distillation_weight']})."
    )


def is_word_vectors(config: dict) -> bool:
    """Whether `config.json` is that of a word-vector pretraining folder (scripts/pretrain_word_vectors.py)."""
    return bool(config.get("embeddings_only"))


def describe_word_vectors(config: dict, recipe: dict) -> str:
    return (
        f"{config['embedding_dim']}-dimensional word vectors for a word-level vocabulary of "
        f"{config['vocab_size']:,} entries, learned by skip-gram with negative sampling (word2vec: a window of "
        f"{recipe.get('window', 5)} words, {recipe.get('negative', 5)} negatives, {recipe.get('word2vec_epochs', 5)} "
        f"epochs) on the {'training and ' if recipe.get('pretrain_on_training_reviews', True) else ''}unlabeled "
        "reviews, as the embeddings an LSTM classifier starts from."
    )


def describe_verbalizer(config: dict, recipe: dict) -> str:
    encoder = config["encoder_config"]
    if config["head_type"] == "mlm":
        head = (
            "the encoder's masked-LM head scores the label words "
            f"{' / '.join(repr(word) for word in config['label_words'])} at a mask placed after the template"
        )
    else:
        sizes = " -> ".join(str(size) for size in config["mlp_hidden_sizes"])
        reads = {
            "token": "the hidden state of the template's last token",
            "mean": "the mean of the hidden states",
            "token_and_mean": "the hidden state of the template's last token and the mean of all of them",
        }[config["representation"]]
        head = f"an MLP ({sizes}, BatchNorm, ReLU, dropout) reads {reads}"
    frozen = "frozen" if config["freeze_encoder"] else "fine-tuned"
    return (
        f"A {frozen} pretrained encoder ({base_model_name(recipe)}, {encoder['model_type']}, "
        f"{encoder['num_hidden_layers']} layers, hidden size {encoder['hidden_size']}) reads each review followed "
        f"by the template {config['template']!r}, cut to {config['max_length']} tokens "
        f"(a longer review keeps {describe_cut(recipe)}; the template is always kept), and {head}."
    )


def describe_finetuned(config: dict, recipe: dict) -> str:
    return (
        f"The pretrained encoder {base_model_name(recipe)} ({config['model_type']}) fine-tuned end to end "
        f"with a new classification head; a review longer than {recipe['max_length']} tokens keeps "
        f"{describe_cut(recipe)}."
    )


# The card's description of each approach's architecture.
DESCRIPTIONS = {
    "lstm": describe_lstm,
    "lstm_pretrained": describe_lstm,
    "lstm_distilled": describe_distilled,
    "verbalizer": describe_verbalizer,
    "finetune": describe_finetuned,
    "word_vectors": describe_word_vectors,
    "pretraining": describe_lstm,
}


def describe_architecture(config: dict, recipe: dict) -> str:
    """The card's sentence on the architecture of the run's approach."""
    return DESCRIPTIONS[approach_of(recipe).name](config, recipe)

"""The approaches of this project, in one place: for each, the script that trains it, its default recipe, the argument
classes that script parses, the recipe key that names the model it starts from, what its model card says of it, and
whether `scripts/compare.py` trains it by default.

Every run records its approach (`approach:` in `training_recipe.yaml`): the card, the recipe's header and the
comparison read it there instead of guessing from the recipe's keys. Adding an approach is one entry in `APPROACHES`,
plus its model code, its script and its recipes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .arguments import (
    BaseModelArguments,
    DataArguments,
    EncoderArguments,
    EncodingArguments,
    LSTMArguments,
    PretrainedLSTMArguments,
    PretrainingDataArguments,
    SentimentTrainingArguments,
    VerbalizerArguments,
    WordVectorArguments,
    parse_recipe,
)

PRETRAINING_ARCHITECTURE = "LSTMForPreTraining"


@dataclass(frozen=True)
class Approach:
    name: str
    script: str  # relative to the project's root, as the card and the recipe's header show it
    recipe: str  # the default recipe, relative to the project's root
    argument_classes: tuple[type, ...]  # what the script parses, in the order it unpacks them
    describe: Callable[[dict, dict], str]  # the card's sentence on the architecture, from config.json and the recipe
    base_model_key: str | None = None  # the recipe key naming the model the run starts from, if any
    compared_by_default: bool = True  # whether compare.py trains it when --approaches is not given


def is_pretraining(config: dict) -> bool:
    """Whether `config.json` is that of a language-model pretraining folder (scripts/pretrain.py)."""
    return config.get("architectures") == [PRETRAINING_ARCHITECTURE]


def describe_cut(recipe: dict) -> str:
    """What a review longer than the run's `max_length` keeps, in words (the spec its tokenizer saves and applies)."""
    truncation = recipe.get("truncation", "head")
    if truncation == "head_tail":
        return f"its first {recipe['head_tokens']} tokens and its end"
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
    pretrained = recipe["approach"] == "lstm_pretrained"
    start = "learned from scratch"
    if pretrained and recipe.get("pretrained_layers") == "embeddings":
        start = f"its embeddings taken from a pretraining run ({base_model_name(recipe)}), the LSTM from scratch"
    elif pretrained:
        start = f"pretrained as language models ({base_model_name(recipe)})"
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


def is_word_vectors(config: dict) -> bool:
    """Whether `config.json` is that of a word-vector pretraining folder (scripts/pretrain_word_vectors.py)."""
    return bool(config.get("embeddings_only"))


def describe_word_vectors(config: dict, recipe: dict) -> str:
    return (
        f"{config['embedding_dim']}-dimensional word vectors for a word-level vocabulary of "
        f"{config['vocab_size']:,} entries, learned by skip-gram with negative sampling (word2vec: a window of "
        f"{recipe.get('window', 5)} words, {recipe.get('negative', 5)} negatives, {recipe.get('word2vec_epochs', 5)} "
        "epochs) on the training and unlabeled reviews, as the embeddings an LSTM classifier starts from."
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


LSTM_ARGUMENTS = (
    DataArguments,
    LSTMArguments,
    PretrainedLSTMArguments,
    BaseModelArguments,
    SentimentTrainingArguments,
)
APPROACHES = {
    approach.name: approach
    for approach in (
        Approach("lstm", "scripts/train.py", "configs/lstm.yaml", LSTM_ARGUMENTS, describe_lstm),
        Approach(
            "lstm_pretrained",
            "scripts/train.py",
            "configs/lstm_pretrained.yaml",
            LSTM_ARGUMENTS,
            describe_lstm,
            base_model_key="pretrained_model_name_or_path",
            compared_by_default=False,  # it needs a pretraining folder (--base_model lstm_pretrained=FOLDER)
        ),
        Approach(
            "verbalizer",
            "scripts/train_verbalizer.py",
            "configs/verbalizer.yaml",
            (DataArguments, VerbalizerArguments, EncodingArguments, BaseModelArguments, SentimentTrainingArguments),
            describe_verbalizer,
            base_model_key="encoder_name_or_path",
        ),
        Approach(
            "finetune",
            "scripts/finetune.py",
            "configs/finetune/modernbert.yaml",
            (DataArguments, EncoderArguments, BaseModelArguments, SentimentTrainingArguments),
            describe_finetuned,
            base_model_key="model_name_or_path",
        ),
        Approach(
            "word_vectors",
            "scripts/pretrain_word_vectors.py",
            "configs/pretrain/word_vectors.yaml",
            (PretrainingDataArguments, WordVectorArguments, SentimentTrainingArguments),
            describe_word_vectors,
            compared_by_default=False,  # word vectors, not a classifier
        ),
        Approach(
            "pretraining",
            "scripts/pretrain.py",
            "configs/pretrain/lstm.yaml",
            (PretrainingDataArguments, LSTMArguments, SentimentTrainingArguments),
            describe_lstm,
            compared_by_default=False,  # a language model, not a classifier
        ),
    )
}


def approach_of(recipe: dict) -> Approach:
    """The approach a run's recipe (`training_recipe.yaml`) records."""
    name = recipe.get("approach")
    if name not in APPROACHES:
        raise ValueError(
            f"The run's recipe records no known approach (approach: {name!r}; known: {', '.join(APPROACHES)}): "
            "was it written by an older version of this project? Add the `approach:` line that fits it."
        )
    return APPROACHES[name]


def parse_run_arguments(name: str, args: list[str] | None = None) -> tuple:
    """`parse_recipe` with the approach's argument classes: its dataclass instances, then the run's recipe, which
    records `approach: name` first. A recipe file that names another approach is refused."""
    approach = APPROACHES[name]
    sharing = tuple(other for other, entry in APPROACHES.items() if entry.script == approach.script)
    *instances, recipe = parse_recipe(approach.argument_classes, args, approaches=sharing)
    return (*instances, {"approach": name, **recipe})

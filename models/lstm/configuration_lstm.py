"""Configuration of the LSTM models: the base model, its language-model pretraining and its sentiment classifier."""

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .pipeline_lstm import SortedTextClassificationPipeline

# The tasks under which `pipeline()` finds the folder's own pipeline class.
PIPELINE_TASKS = ("sentiment-analysis", "text-classification")
DEFAULT_ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}


@strict
class LSTMSentimentConfig(PreTrainedConfig):
    r"""
    Configuration of [`LSTMModel`] (word embeddings, a padding-invariant (bi)directional LSTM or GRU, a masked pooling
    over the tokens of each review), of [`LSTMForSequenceClassification`] (that model and a linear classifier) and of
    [`LSTMForPreTraining`] (that model and a forward and a backward language model over the same embeddings, as in
    ELMo, to learn from unlabeled reviews before fine-tuning the classifier).

    Args:
        vocab_size (`int`, *optional*, defaults to 30000):
            Number of rows of the embedding matrix; must equal the size of the tokenizer's vocabulary.
        embedding_dim (`int`, *optional*, defaults to 128):
            Size of the word embeddings.
        hidden_size (`int`, *optional*, defaults to 128):
            Size of the LSTM state in each direction.
        num_layers (`int`, *optional*, defaults to 1):
            Number of stacked recurrent layers.
        bidirectional (`bool`, *optional*, defaults to `True`):
            Whether a second recurrent network reads each review from its last token to its first.
        cell_type (`str`, *optional*, defaults to `"lstm"`):
            The recurrent cell: `"lstm"` or `"gru"` (three gates instead of four: about 3/4 of the LSTM's cost).
        pooling (`str`, *optional*, defaults to `"max_mean"`):
            How the recurrent outputs of a review's tokens become one vector: `"attention"` (learned weights over the
            tokens), `"max"`, `"mean"` or `"max_mean"` (both, concatenated). Padding is always masked out.
        embedding_dropout (`float`, *optional*, defaults to 0.3):
            Dropout on the word embeddings.
        lstm_dropout (`float`, *optional*, defaults to 0.0):
            Dropout between stacked recurrent layers (ignored with one layer).
        classifier_dropout (`float`, *optional*, defaults to 0.3):
            Dropout on the pooled vector before the classifier.
        classification_loss (`str`, *optional*, defaults to `"cross_entropy"`):
            The classifier's training loss: `"cross_entropy"`; `"label_smoothing"`, cross-entropy against targets
            that give `label_smoothing` of their mass to all classes evenly; or `"confidence_penalty"`,
            cross-entropy minus `confidence_penalty_weight` times the entropy of the predicted distribution, which
            discourages over-confident predictions (Pereyra et al., 2017).
        label_smoothing (`float`, *optional*, defaults to 0.1):
            Share of each target's probability spread evenly over the classes; used by `"label_smoothing"` only.
        confidence_penalty_weight (`float`, *optional*, defaults to 0.1):
            Weight of the entropy subtracted from the cross-entropy; used by `"confidence_penalty"` only.
        adversarial_epsilon (`float`, *optional*, defaults to 0.0):
            Adversarial training of the classifier (Miyato et al., 2017): each training batch's loss is added to the
            loss of the same batch with its word embeddings moved along the loss's gradient, normalised per review,
            by `adversarial_epsilon` times the standard deviation of the embedding matrix (so the step follows the
            embeddings' own scale). It regularises what small embedding changes can flip, at about twice the training
            cost; 0 turns it off. Inference is unchanged.
        virtual_adversarial_epsilon (`float`, *optional*, defaults to 0.0):
            Virtual adversarial training on unlabeled reviews (Miyato et al., 2017), when the forward pass is given
            a batch of them (`unsupervised_input_ids`): the KL divergence between the model's prediction on each review
            and on the review with its embeddings moved, by `virtual_adversarial_epsilon` embedding standard
            deviations (the L2 norm over the whole review), in the direction that changes that prediction most
            (one power iteration from a random step of `virtual_adversarial_xi`). It needs no labels: it makes the
            prediction smooth around the unlabeled reviews. 0 turns it off; inference is unchanged.
        virtual_adversarial_xi (`float`, *optional*, defaults to 0.1):
            Size, in embedding standard deviations over the whole review, of the random step whose gradient finds the
            virtual adversarial direction.
        virtual_adversarial_weight (`float`, *optional*, defaults to 1.0):
            Weight of the virtual adversarial loss in the training loss.
        entropy_minimization_weight (`float`, *optional*, defaults to 0.0):
            Weight of the mean entropy of the predictions on the unlabeled batch, added to the training loss
            (Grandvalet & Bengio, 2005): it pushes the decision boundary away from unlabeled reviews. 0 turns it off.
        distillation_weight (`float`, *optional*, defaults to 0.0):
            Knowledge distillation (Hinton et al., 2015), when the forward pass is given a teacher's logits for the
            batch (`teacher_logits`, see `scripts/distill.py`): the loss is the cross-entropy on the gold labels of the
            reviews that have one (label -100 marks those without) plus `distillation_weight` times
            T² · KL(teacher's || student's distribution), both at temperature T = `distillation_temperature`, over
            every review of the batch. The T² keeps the soft targets' gradients at the scale of the hard ones'.
            0 turns it off; inference is unchanged.
        distillation_temperature (`float`, *optional*, defaults to 1.0):
            The temperature T that softens the teacher's and the student's distributions in distillation.
        word_dropout (`float`, *optional*, defaults to 0.0):
            In training, the share of a review's tokens whose whole embedding is zeroed (the others scaled up to
            keep the expected sum), so the classifier cannot lean on a few words.
        layer_norm (`bool`, *optional*, defaults to `False`):
            Whether a LayerNorm normalises the embeddings before the recurrent layers and their outputs before the
            pooling, as in Sachan et al. (2019).
        embeddings_only (`bool`, *optional*, defaults to `False`):
            Set by a word-vector pretraining folder: its embeddings are trained, its recurrent layers are not, so a
            classifier may start from its embeddings only.
        num_sampled_negatives (`int`, *optional*, defaults to 1024):
            Pretraining only. Words drawn per batch, shared by every position, against which each next word is scored
            in training: a sampled softmax (Jean et al., 2015) with the log-Q correction, drawn from a log-uniform
            (Zipf) distribution over the ids, which the word-level tokenizer assigns by decreasing frequency. 0 scores
            against the whole vocabulary, exact and far slower: `scripts/benchmark_lm_head.py` (30,000 words, 128-d
            embeddings, 128 units per direction, batches of 64 x 128 tokens, one thread, tokens per second of CPU
            time) measured 49k tokens/s for the embeddings and LSTMs alone, 13.2k with 1,024 sampled negatives and
            tied embeddings (21.3k with 512), 5.9k with `nn.AdaptiveLogSoftmaxWithLoss` and 1.0k with the full
            softmax. Evaluation always uses the full softmax, so validation perplexity is exact and comparable across
            settings.
        tie_word_embeddings (`bool`, *optional*, defaults to `True`):
            Pretraining only. Whether the language models score words against the input embeddings (through a
            projection of each direction's state to `embedding_dim`) instead of a separate output matrix: half the
            embedding parameters, and every sampled negative trains the embeddings the classifier will read.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initializer of the linear layers.
        pad_token_id (`int`, *optional*, defaults to 0):
            Id of the padding token, whose embedding stays zero.
    """

    model_type = "imdb_lstm"

    vocab_size: int = 30000
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    cell_type: Literal["lstm", "gru"] = "lstm"
    pooling: Literal["attention", "max", "mean", "max_mean"] = "max_mean"
    embedding_dropout: float | int = 0.3
    lstm_dropout: float | int = 0.0
    classifier_dropout: float | int = 0.3
    classification_loss: Literal["cross_entropy", "label_smoothing", "confidence_penalty"] = "cross_entropy"
    label_smoothing: float | int = 0.1
    confidence_penalty_weight: float | int = 0.1
    adversarial_epsilon: float | int = 0.0
    virtual_adversarial_epsilon: float | int = 0.0
    virtual_adversarial_xi: float | int = 0.1
    virtual_adversarial_weight: float | int = 1.0
    entropy_minimization_weight: float | int = 0.0
    distillation_weight: float | int = 0.0
    distillation_temperature: float | int = 1.0
    word_dropout: float | int = 0.0
    layer_norm: bool = False
    embeddings_only: bool = False
    num_sampled_negatives: int = 1024
    tie_word_embeddings: bool = True
    initializer_range: float | int = 0.02
    pad_token_id: int | None = 0

    def __post_init__(self, **kwargs):
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(DEFAULT_ID2LABEL)
            self.label2id = {label: index for index, label in DEFAULT_ID2LABEL.items()}
        super().__post_init__(**kwargs)
        if getattr(self, "custom_pipelines", None) is None:
            # `pipeline("sentiment-analysis", folder, trust_remote_code=True)` then uses the folder's own pipeline
            # class, which this file's import makes `save_pretrained` copy beside it.
            implementation = {
                "impl": f"pipeline_lstm.{SortedTextClassificationPipeline.__name__}",
                "pt": ["AutoModelForSequenceClassification"],
                "type": "text",
            }
            self.custom_pipelines = {task: dict(implementation) for task in PIPELINE_TASKS}
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {getattr(self, name)}.")
        for name in ("embedding_dropout", "lstm_dropout", "classifier_dropout", "label_smoothing", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {getattr(self, name)}.")
        if self.confidence_penalty_weight < 0:
            raise ValueError(f"`confidence_penalty_weight` must be at least 0, got {self.confidence_penalty_weight}.")
        for name in (
            "adversarial_epsilon",
            "virtual_adversarial_epsilon",
            "virtual_adversarial_weight",
            "entropy_minimization_weight",
            "distillation_weight",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be at least 0, got {getattr(self, name)}.")
        if self.distillation_temperature <= 0:
            raise ValueError(f"`distillation_temperature` must be positive, got {self.distillation_temperature}.")
        if self.virtual_adversarial_xi <= 0:
            raise ValueError(f"`virtual_adversarial_xi` must be positive, got {self.virtual_adversarial_xi}.")
        if self.num_sampled_negatives < 0:
            raise ValueError(f"`num_sampled_negatives` must be at least 0, got {self.num_sampled_negatives}.")

    @property
    def learns_from_unlabeled(self) -> bool:
        """Whether the classifier's training loss reads a batch of unlabeled reviews with each labeled batch."""
        virtual_adversarial = self.virtual_adversarial_epsilon > 0 and self.virtual_adversarial_weight > 0
        return virtual_adversarial or self.entropy_minimization_weight > 0


__all__ = ["LSTMSentimentConfig"]

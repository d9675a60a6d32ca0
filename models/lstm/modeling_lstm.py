"""LSTM models as Hub-portable `PreTrainedModel`s: the base model (`LSTMModel`), its language-model pretraining on
unlabeled reviews (`LSTMForPreTraining`) and the sentiment classifier (`LSTMForSequenceClassification`), which starts
from scratch or from a pretrained folder, as a BERT checkpoint is fine-tuned.

This file imports only `torch`, `transformers` and its sibling configuration file, because `save_pretrained` copies
it to the model folder and `trust_remote_code=True` loads it from there without this project installed.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput
from transformers.utils import ModelOutput

from .configuration_lstm import LSTMSentimentConfig

IGNORE_INDEX = -100
# Positions scored against the whole vocabulary at once by the full softmax: bounds its logits to about 120 MB.
FULL_SOFTMAX_CHUNK = 1024


def reverse_padded(sequences: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverses the first `lengths[i]` steps of each row of `sequences` (batch, time, ...) and leaves padding in place.

    Applying it twice gives the input back. Reading reversed rows left to right is how the backward direction sees a
    review without ever reading its padding first, which keeps logits independent of how much padding a batch has.
    """
    steps = torch.arange(sequences.size(1), device=sequences.device).unsqueeze(0)
    last = (lengths - 1).unsqueeze(1)
    index = torch.where(steps <= last, last - steps, steps)
    # Batch and time sizes from `index`, not `sequences`: torch.onnx's exporter fixes an LSTM output's time size to
    # the example's, which `expand_as` would copy into the ONNX graph.
    index = index.view(*index.shape, *([1] * (sequences.dim() - 2))).expand(-1, -1, *sequences.shape[2:])
    return sequences.gather(1, index)


def right_padded(
    input_ids: torch.LongTensor, attention_mask: torch.Tensor | None, pad_token_id: int
) -> tuple[torch.LongTensor, torch.Tensor]:
    """The ids and a boolean mask of real tokens, checked to be right-padded; an empty text gets one padding step."""
    if attention_mask is None:
        attention_mask = input_ids.ne(pad_token_id)
    mask = attention_mask.bool()
    if input_ids.size(1) == 0:
        input_ids = input_ids.new_full((input_ids.size(0), 1), pad_token_id)
        mask = mask.new_zeros((input_ids.size(0), 1))
    lengths = mask.sum(dim=1, keepdim=True)
    # An exported graph (ONNX) cannot raise on its inputs' values: there the tokenizer beside it pads on the right.
    if torch.compiler.is_exporting():
        return input_ids, mask
    if not torch.equal(mask, torch.arange(mask.size(1), device=mask.device) < lengths):
        raise ValueError("The LSTM models expect right padding (attention_mask of 1s then 0s).")
    return input_ids, mask


class PaddingInvariantRNN(nn.Module):
    """A stack of (bi)directional LSTM or GRU layers over right-padded batches.

    `nn.LSTM(bidirectional=True)` would start its backward pass on the padding, so a review's outputs would change
    with the length of its batch-mates. Here the backward direction is a forward network over each review reversed
    within its own length. This costs the same as `nn.LSTM` and, unlike `pack_padded_sequence`, stays fast on CPUs.
    Outputs are `[forward states, backward states]` along the last dimension.
    """

    def __init__(
        self, cell_type: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float
    ):
        super().__init__()
        cell = {"lstm": nn.LSTM, "gru": nn.GRU}[cell_type]
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList(
            cell(input_size if i == 0 else hidden_size * directions, hidden_size, batch_first=True)
            for i in range(num_layers)
        )
        self.backward_layers = nn.ModuleList(
            cell(input_size if i == 0 else hidden_size * directions, hidden_size, batch_first=True)
            for i in range(num_layers if bidirectional else 0)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden = inputs
        for index, forward_layer in enumerate(self.forward_layers):
            if index > 0:
                hidden = self.dropout(hidden)
            outputs, _ = forward_layer(hidden)
            if self.backward_layers:
                backward_outputs, _ = self.backward_layers[index](reverse_padded(hidden, lengths))
                outputs = torch.cat([outputs, reverse_padded(backward_outputs, lengths)], dim=-1)
            hidden = outputs
        return hidden


class MaskedPooling(nn.Module):
    """Pools the recurrent outputs of each review's real tokens into one vector; padding never contributes."""

    def __init__(self, pooling: str, input_size: int):
        super().__init__()
        self.pooling = pooling
        self.attention = nn.Linear(input_size, 1) if pooling == "attention" else None

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.unsqueeze(-1)
        lowest = torch.finfo(hidden.dtype).min
        pooled = []
        if self.pooling in ("max", "max_mean"):
            pooled.append(hidden.masked_fill(~mask, lowest).max(dim=1).values)
        if self.pooling in ("mean", "max_mean"):
            pooled.append((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1))
        if self.pooling == "attention":
            scores = self.attention(torch.tanh(hidden)).masked_fill(~mask, lowest)
            pooled.append((scores.softmax(dim=1) * hidden).sum(dim=1))
        # A review with no tokens at all (empty text) pools to zeros, so it gets the classifier's prior, not NaN.
        return torch.cat(pooled, dim=-1).masked_fill(~mask.any(dim=1), 0.0)


class LSTMPreTrainedModel(PreTrainedModel):
    config_class = LSTMSentimentConfig
    # A pretraining folder's language models (`LSTMForPreTraining.lm_head`) are left behind on purpose.
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]
    # The loss is a mean over the batch: `Trainer` must not rescale it by a global token count (`num_items_in_batch`).
    accepts_loss_kwargs = False
    config: LSTMSentimentConfig
    base_model_prefix = "lstm"
    main_input_name = "input_ids"

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, (nn.LSTM, nn.GRU)):
            # Orthogonal recurrent weights keep gradients alive through long reviews; an LSTM forget-gate bias of 1
            # makes the cell remember by default early in training (Jozefowicz et al., 2015).
            for name, param in module.named_parameters():
                if name.startswith("weight_ih"):
                    init.xavier_uniform_(param)
                elif name.startswith("weight_hh"):
                    init.orthogonal_(param)
                elif name.startswith("bias"):
                    init.zeros_(param)
                    forget_gate = isinstance(module, nn.LSTM) and name.startswith("bias_ih")
                    if forget_gate and not getattr(param, "_is_hf_initialized", False):
                        init.ones_(param[module.hidden_size : 2 * module.hidden_size])
        elif isinstance(module, nn.Embedding):
            # Embeddings learned from scratch start at unit scale, as in `nn.Embedding`, not BERT's 0.02.
            init.normal_(module.weight, mean=0.0, std=1.0)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        else:
            super()._init_weights(module)


class LSTMModel(LSTMPreTrainedModel):
    """Word embeddings and a padding-invariant (bi)directional LSTM or GRU: each token's states and, with the pooling
    layer, one vector per review (masked pooling over its real tokens)."""

    def __init__(self, config: LSTMSentimentConfig, add_pooling_layer: bool = True):
        r"""
        add_pooling_layer (`bool`, *optional*, defaults to `True`):
            Whether to pool the states into `pooler_output`; the language models read the states only.
        """
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        # Named `lstm` for GRUs too: the classifier's weights were `embeddings.*`, `lstm.*` and `pooling.*` before this
        # base model held them, and transformers loads such folders by adding the `lstm.` prefix to every key.
        self.lstm = PaddingInvariantRNN(
            config.cell_type,
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            config.bidirectional,
            config.lstm_dropout,
        )
        self.input_norm = nn.LayerNorm(config.embedding_dim) if config.layer_norm else None
        self.output_norm = nn.LayerNorm(self.output_size) if config.layer_norm else None
        self.pooling = MaskedPooling(config.pooling, self.output_size) if add_pooling_layer else None
        # Every LSTM folder loads as the base model and starts a classifier, without this project too.
        config.auto_map = {**(getattr(config, "auto_map", None) or {}), **loaded_as()}
        self.post_init()

    @property
    def output_size(self) -> int:
        """Size of each token's state: both directions, concatenated."""
        return self.config.hidden_size * (2 if self.config.bidirectional else 1)

    @property
    def pooled_size(self) -> int:
        return self.output_size * (2 if self.config.pooling == "max_mean" else 1)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding):
        self.embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        embedding_perturbation: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPooling:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Token ids from the model's word-level tokenizer, padded on the right.
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 for real tokens, 0 for padding. Derived from `pad_token_id` when not given.
        embedding_perturbation (`torch.Tensor` of shape `(batch_size, sequence_length, embedding_dim)`, *optional*):
            Added to the word embeddings before dropout: adversarial training moves them along the loss's gradient.

        Returns `last_hidden_state` of shape `(batch_size, sequence_length, output_size)` (the forward direction's
        states, then the backward direction's; meaningless at padding) and, with the pooling layer, `pooler_output`
        of shape `(batch_size, pooled_size)`.
        """
        input_ids, mask = right_padded(input_ids, attention_mask, self.config.pad_token_id)
        embedded = self.embeddings(input_ids)
        if embedding_perturbation is not None:
            embedded = embedded + embedding_perturbation
        if self.training and self.config.word_dropout > 0:
            kept = torch.rand(*input_ids.shape, 1, device=embedded.device) >= self.config.word_dropout
            embedded = embedded * kept / (1.0 - self.config.word_dropout)
        embedded = self.embedding_dropout(embedded)
        if self.input_norm is not None:
            embedded = self.input_norm(embedded)
        hidden = self.lstm(embedded, mask.sum(dim=1))
        if self.output_norm is not None:
            hidden = self.output_norm(hidden)
        pooled = self.pooling(hidden, mask) if self.pooling is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)


class LSTMForSequenceClassification(LSTMPreTrainedModel):
    """`LSTMModel` (embeddings, padding-invariant (bi)LSTM or GRU, masked pooling) and a linear classifier."""

    def __init__(self, config: LSTMSentimentConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.lstm = LSTMModel(config)
        self.classifier_dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(self.lstm.pooled_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        unsupervised_input_ids: torch.LongTensor | None = None,
        unsupervised_attention_mask: torch.Tensor | None = None,
        teacher_logits: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Token ids from the model's word-level tokenizer, padded on the right.
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 for real tokens, 0 for padding. Derived from `pad_token_id` when not given.
        labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Class indices; when given, the loss named by `config.classification_loss` is returned too.
        unsupervised_input_ids (`torch.LongTensor` of shape `(unlabeled_batch_size, unlabeled_length)`, *optional*):
            In training, a batch of unlabeled reviews (named so that `Trainer`, which takes every argument whose
            name holds "label" for a label, feeds them as inputs): the loss then adds their virtual adversarial loss and the
            entropy of their predictions, as weighted by the config (see `LSTMSentimentConfig`).
        unsupervised_attention_mask (`torch.Tensor` of shape `(unlabeled_batch_size, unlabeled_length)`, *optional*):
            The unlabeled batch's mask, 1 for real tokens, 0 for padding.
        teacher_logits (`torch.Tensor` of shape `(batch_size, num_labels)`, *optional*):
            In distillation, a teacher's logits (or log-probabilities) for the batch: with `labels` (-100 where a
            review has none), the loss is then `distillation_loss`'s.
        """
        adversarial = self.training and labels is not None and self.config.adversarial_epsilon > 0
        # A zero perturbation whose gradient is the loss's gradient with respect to the embeddings.
        perturbation = self.zero_perturbation(input_ids) if adversarial else None
        logits = self.logits(input_ids, attention_mask, perturbation)
        loss = None
        if labels is not None:
            loss = self.supervised_loss(logits, labels, teacher_logits)
        if adversarial:
            (gradient,) = torch.autograd.grad(loss, perturbation, retain_graph=True)
            loss = loss + self.supervised_loss(
                self.logits(input_ids, attention_mask, self.embedding_step(gradient, self.config.adversarial_epsilon)),
                labels,
                teacher_logits,
            )
        if loss is not None and unsupervised_input_ids is not None and self.training:
            loss = loss + self.unlabeled_loss(unsupervised_input_ids, unsupervised_attention_mask)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def supervised_loss(
        self, logits: torch.Tensor, labels: torch.LongTensor, teacher_logits: torch.Tensor | None
    ) -> torch.Tensor:
        """`classification_loss`, or with a teacher's logits and a positive `distillation_weight`, `distillation_loss`."""
        if teacher_logits is None or self.config.distillation_weight == 0:
            return self.classification_loss(logits, labels)
        return self.distillation_loss(logits, labels, teacher_logits)

    def distillation_loss(
        self, logits: torch.Tensor, labels: torch.LongTensor, teacher_logits: torch.Tensor
    ) -> torch.Tensor:
        """The classification loss on the reviews with a gold label (label -100: none; 0 when no review of the batch
        has one) plus `distillation_weight` · T² · KL(softmax(teacher_logits / T) || softmax(logits / T)), the KL
        averaged over every review of the batch, T = `distillation_temperature`."""
        labels = labels.view(-1)
        labeled = labels != -100
        loss = self.classification_loss(logits[labeled], labels[labeled]) if labeled.any() else logits.sum() * 0.0
        temperature = self.config.distillation_temperature
        soft_targets = (teacher_logits.to(logits.dtype) / temperature).log_softmax(dim=-1)
        divergence = self.divergence(soft_targets, logits / temperature)
        return loss + self.config.distillation_weight * temperature**2 * divergence

    def unlabeled_loss(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The unlabeled batch's share of the loss: `virtual_adversarial_weight` times its virtual adversarial loss
        plus `entropy_minimization_weight` times the mean entropy of its predictions (each term only when its
        weight and, for the first, `virtual_adversarial_epsilon` are positive)."""
        config = self.config
        logits = self.logits(input_ids, attention_mask, None)
        loss = logits.new_zeros(())
        if config.entropy_minimization_weight > 0:
            log_probabilities = logits.log_softmax(dim=-1)
            entropy = -(log_probabilities.exp() * log_probabilities).sum(dim=-1).mean()
            loss = loss + config.entropy_minimization_weight * entropy
        if config.virtual_adversarial_epsilon > 0 and config.virtual_adversarial_weight > 0:
            virtual_adversarial = self.virtual_adversarial_loss(input_ids, attention_mask, logits.detach())
            loss = loss + config.virtual_adversarial_weight * virtual_adversarial
        return loss

    def virtual_adversarial_loss(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None, clean_logits: torch.Tensor
    ) -> torch.Tensor:
        """KL(p || q) averaged over the batch, p the prediction on the reviews (`clean_logits`, held fixed), q that
        on the reviews with their embeddings moved by `virtual_adversarial_epsilon` along the direction that one
        power iteration, from a random step of `virtual_adversarial_xi`, finds most damaging (Miyato et al.)."""
        target = clean_logits.log_softmax(dim=-1)
        _, mask = right_padded(input_ids, attention_mask, self.config.pad_token_id)
        # Padding is never read: a random step there would only shrink the step on the review's own tokens.
        random_direction = torch.randn(*mask.shape, self.config.embedding_dim, device=mask.device) * mask.unsqueeze(-1)
        probe = self.embedding_step(random_direction, self.config.virtual_adversarial_xi).requires_grad_()
        divergence = self.divergence(target, self.logits(input_ids, attention_mask, probe))
        (gradient,) = torch.autograd.grad(divergence, probe)
        step = self.embedding_step(gradient, self.config.virtual_adversarial_epsilon)
        return self.divergence(target, self.logits(input_ids, attention_mask, step))

    @staticmethod
    def divergence(target_log_probabilities: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of KL(target || softmax(logits))."""
        return nn.functional.kl_div(
            logits.log_softmax(dim=-1), target_log_probabilities, log_target=True, reduction="batchmean"
        )

    def zero_perturbation(self, input_ids: torch.LongTensor) -> torch.Tensor:
        return torch.zeros(*input_ids.shape, self.config.embedding_dim, device=input_ids.device, requires_grad=True)

    def logits(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None, perturbation: torch.Tensor | None
    ) -> torch.Tensor:
        pooled = self.lstm(input_ids, attention_mask, embedding_perturbation=perturbation).pooler_output
        return self.classifier(self.classifier_dropout(pooled))

    def embedding_step(self, direction: torch.Tensor, size: float) -> torch.Tensor:
        """`direction`, normalised per review (the L2 norm over all its tokens and dimensions), times `size`
        embedding standard deviations, so the step follows the embeddings' own scale; detached."""
        scale = size * self.lstm.embeddings.weight.detach().std()
        norms = direction.flatten(start_dim=1).norm(dim=1).clamp_min(1e-12)
        return (scale * direction / norms.view(-1, 1, 1)).detach()

    def classification_loss(self, logits: torch.Tensor, labels: torch.LongTensor) -> torch.Tensor:
        """The batch's mean loss, as `config.classification_loss` defines it."""
        logits, labels = logits.view(-1, self.num_labels), labels.view(-1)
        if self.config.classification_loss == "label_smoothing":
            return nn.functional.cross_entropy(logits, labels, label_smoothing=self.config.label_smoothing)
        loss = nn.functional.cross_entropy(logits, labels)
        if self.config.classification_loss == "confidence_penalty":
            log_probabilities = logits.log_softmax(dim=-1)
            entropy = -(log_probabilities.exp() * log_probabilities).sum(dim=-1).mean()
            loss = loss - self.config.confidence_penalty_weight * entropy
        return loss


@dataclass
class LSTMForPreTrainingOutput(ModelOutput):
    r"""
    loss (`torch.Tensor` of shape `()`, returned when `labels` are given):
        Mean negative log-likelihood of the predicted words, both directions together: against sampled negatives in
        training (unless `num_sampled_negatives` is 0), against the whole vocabulary in evaluation, where
        `exp(loss)` is the perplexity.
    forward_token_losses (`torch.Tensor` of shape `(batch_size, sequence_length)`, returned in evaluation):
        At position t, `-log p(word t | words before t)` under the forward language model; 0 where nothing is
        predicted (the first token, padding, ignored labels).
    backward_token_losses (`torch.Tensor` of shape `(batch_size, sequence_length)`, returned in evaluation):
        At position t, `-log p(word t | words after t)` under the backward language model; 0 where nothing is
        predicted (the last token, padding, ignored labels), and throughout for a unidirectional model.
    """

    loss: torch.Tensor | None = None
    forward_token_losses: torch.Tensor | None = None
    backward_token_losses: torch.Tensor | None = None


def log_uniform_log_probabilities(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """log Q(id) under the log-uniform (Zipf) distribution Q(k) = log((k + 2) / (k + 1)) / log(vocab_size + 1)."""
    ids = ids.to(torch.float64)
    return (torch.log1p(1.0 / (ids + 1.0)).log() - math.log(math.log(vocab_size + 1.0))).to(torch.float32)


def sample_log_uniform(num_samples: int, vocab_size: int, device: torch.device) -> torch.Tensor:
    """`num_samples` ids drawn with replacement from the log-uniform distribution over `range(vocab_size)`."""
    uniform = torch.rand(num_samples, device=device, dtype=torch.float64)
    ids = torch.exp(uniform * math.log(vocab_size + 1.0)).long() - 1
    return ids.clamp_(0, vocab_size - 1)


class BidirectionalLanguageModelHead(nn.Module):
    """Projects each direction's states to the embedding size and scores words with one output matrix (the input
    embeddings when tied) and one bias, shared by the forward and backward language models as in ELMo."""

    def __init__(self, config: LSTMSentimentConfig):
        super().__init__()
        self.forward_projection = nn.Linear(config.hidden_size, config.embedding_dim)
        self.backward_projection = (
            nn.Linear(config.hidden_size, config.embedding_dim) if config.bidirectional else None
        )
        self.decoder = nn.Linear(config.embedding_dim, config.vocab_size)

    def full_softmax_losses(self, states: torch.Tensor, targets: torch.LongTensor) -> torch.Tensor:
        """`-log p(target)` of each state against the whole vocabulary (exact), computed a chunk at a time."""
        losses = [
            nn.functional.cross_entropy(self.decoder(chunk), chunk_targets, reduction="none")
            for chunk, chunk_targets in zip(states.split(FULL_SOFTMAX_CHUNK), targets.split(FULL_SOFTMAX_CHUNK))
        ]
        return torch.cat(losses) if losses else states.new_zeros(0)

    def sampled_softmax_losses(
        self, states: torch.Tensor, targets: torch.LongTensor, num_sampled: int
    ) -> torch.Tensor:
        """Each state's loss against its target and `num_sampled` negatives shared by all states, every logit
        corrected by -log(expected count of its word in the sample), so that the loss estimates the full softmax's
        (Jean et al., 2015); a negative equal to the target is left out."""
        weight, bias = self.decoder.weight, self.decoder.bias
        vocab_size = weight.size(0)
        negatives = sample_log_uniform(num_sampled, vocab_size, states.device)

        def log_expected_count(ids):
            return math.log(num_sampled) + log_uniform_log_probabilities(ids, vocab_size)

        target_weights = nn.functional.embedding(targets, weight)
        target_logits = (states * target_weights).sum(dim=-1) + bias[targets] - log_expected_count(targets)
        # One fused matrix product and in-place masking: the (positions x negatives) logits are the step's largest
        # tensor, and every extra pass over them costs as much as a small matrix product.
        negative_bias = bias[negatives] - log_expected_count(negatives)
        negative_logits = torch.addmm(negative_bias, states, nn.functional.embedding(negatives, weight).T)
        negative_logits.masked_fill_(negatives.unsqueeze(0) == targets.unsqueeze(1), -math.inf)
        return torch.logaddexp(target_logits, torch.logsumexp(negative_logits, dim=1)) - target_logits


def auto_map_entry(model_class: type) -> str:
    """How `auto_map` names a class of this file (`modeling_lstm.LSTMModel`), here or in a Hub folder."""
    return f"{model_class.__module__.rsplit('.', 1)[-1]}.{model_class.__name__}"


def loaded_as() -> dict[str, str]:
    """The `auto_map` entries by which every LSTM folder loads: as the base model and as a classifier."""
    return {
        "AutoModel": auto_map_entry(LSTMModel),
        "AutoModelForSequenceClassification": auto_map_entry(LSTMForSequenceClassification),
    }


class LSTMForPreTraining(LSTMPreTrainedModel):
    """`LSTMModel` and two language models over its states, as ELMo: the forward direction's state at each token,
    having read the review up to that token, predicts the next word; the backward direction's, having read it from
    its end back to that token, predicts the previous word. Neither direction ever reads the word it predicts.

    Save it and load the folder with `AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)`: the
    embeddings and the LSTM are kept, the language models dropped, the classifier starts fresh.
    """

    _tied_weights_keys = {"lm_head.decoder.weight": "lstm.embeddings.weight"}

    def __init__(self, config: LSTMSentimentConfig):
        super().__init__(config)
        if config.bidirectional and config.num_layers > 1:
            raise ValueError(
                "LSTMForPreTraining needs num_layers=1 when bidirectional: each stacked layer reads both directions' "
                "states, so the forward language model would see the words it predicts."
            )
        self.lstm = LSTMModel(config, add_pooling_layer=False)
        self.lm_head = BidirectionalLanguageModelHead(config)
        # A tied output matrix is the embeddings, saved once: loading a checkpoint ties it again.
        self._keys_to_ignore_on_save = list(self._tied_weights_keys) if config.tie_word_embeddings else None
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear):
        self.lm_head.decoder = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
    ) -> LSTMForPreTrainingOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Token ids from the model's word-level tokenizer, padded on the right.
        attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*):
            1 for real tokens, 0 for padding. Derived from `pad_token_id` when not given.
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            The words to predict, usually `input_ids` itself (the shift is done here); -100 leaves a position out.
            When given, the loss is returned, and in evaluation each token's loss under each direction too.
        """
        input_ids, mask = right_padded(input_ids, attention_mask, self.config.pad_token_id)
        hidden = self.lstm(input_ids, mask).last_hidden_state
        if labels is None:
            return LSTMForPreTrainingOutput()

        labels = labels.masked_fill(~mask, IGNORE_INDEX)
        size = self.config.hidden_size
        # (states, targets, where the targets sit): the state at t predicts t + 1 forward, t - 1 backward.
        directions = [(self.lm_head.forward_projection(hidden[:, :-1, :size]), labels[:, 1:], slice(1, None))]
        if self.config.bidirectional:
            # A backward state at padding has read nothing of the review: it predicts nothing.
            backward_targets = labels[:, :-1].masked_fill(~mask[:, 1:], IGNORE_INDEX)
            backward_states = self.lm_head.backward_projection(hidden[:, 1:, size:])
            directions.append((backward_states, backward_targets, slice(None, -1)))

        predicted = [targets.ne(IGNORE_INDEX) for _, targets, _ in directions]
        states = torch.cat([s[kept] for (s, _, _), kept in zip(directions, predicted)])
        targets = torch.cat([t[kept] for (_, t, _), kept in zip(directions, predicted)])
        if self.training and self.config.num_sampled_negatives > 0:
            losses = self.lm_head.sampled_softmax_losses(states, targets, self.config.num_sampled_negatives)
            return LSTMForPreTrainingOutput(loss=losses.mean())

        losses = self.lm_head.full_softmax_losses(states, targets)
        token_losses = []
        for (_, _, positions), kept, direction_losses in zip(
            directions, predicted, losses.split([int(k.sum()) for k in predicted])
        ):
            per_token = hidden.new_zeros(labels.shape)
            per_token[:, positions] = per_token[:, positions].masked_scatter(kept, direction_losses)
            token_losses.append(per_token)
        return LSTMForPreTrainingOutput(
            loss=losses.mean(),
            forward_token_losses=token_losses[0],
            backward_token_losses=token_losses[1] if self.config.bidirectional else hidden.new_zeros(labels.shape),
        )


__all__ = [
    "LSTMForPreTraining",
    "LSTMForSequenceClassification",
    "LSTMModel",
    "LSTMPreTrainedModel",
]

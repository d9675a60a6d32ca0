"""What the LSTM's semi-supervised recipe adds to training: batches of unlabeled reviews beside the labeled ones (for
virtual adversarial training and entropy minimisation, computed by the model), and an exponential moving average of
the weights, which is what is evaluated, chosen as the best checkpoint and saved.

Both survive `--resume_from_checkpoint`: the unlabeled batch of each step is a function of the seed and the step,
and each checkpoint holds the training weights beside the averaged ones it is evaluated by.
"""

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from safetensors.torch import load_file, save_file
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase, TrainerCallback

# Beside a checkpoint's `model.safetensors` (the averaged weights): the weights training goes on from.
TRAINING_WEIGHTS_FILE = "training_weights.safetensors"
# Batches sorted by length together, as transformers' `LengthGroupedSampler` does: little padding, still shuffled.
BATCHES_PER_LENGTH_GROUP = 50


class UnlabeledBatches:
    """This process's batches of unlabeled reviews (each process its own shard), grouped by length, drawn by
    position: batch `k` depends only on the seed and `k`, so a resumed run draws the batches it would have."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        tokenizer: PreTrainedTokenizerBase,
        seed: int,
        process_index: int = 0,
        num_processes: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"The unlabeled batch size must be at least 1, got {batch_size}.")
        shard = dataset.shard(num_processes, process_index, contiguous=False) if num_processes > 1 else dataset
        if len(shard) < batch_size:
            raise ValueError(f"{len(shard)} unlabeled reviews per process cannot fill a batch of {batch_size}.")
        self.input_ids = shard["input_ids"]
        self.lengths = np.asarray(shard["length"])
        self.batch_size = batch_size
        self.batches_per_pass = len(shard) // batch_size
        self.seed = seed
        self.collator = DataCollatorWithPadding(tokenizer)
        self._pass_index, self._pass_batches = None, None

    def pass_batches(self, pass_index: int) -> list[np.ndarray]:
        """The batches (review indices) of one pass over the shard: shuffled, sorted by length within groups of
        `BATCHES_PER_LENGTH_GROUP` batches, the batches themselves shuffled again."""
        generator = np.random.default_rng([self.seed, pass_index])
        order = generator.permutation(len(self.lengths))[: self.batches_per_pass * self.batch_size]
        group_size = self.batch_size * BATCHES_PER_LENGTH_GROUP
        batches = []
        for start in range(0, len(order), group_size):
            group = order[start : start + group_size]
            group = group[np.argsort(-self.lengths[group], kind="stable")]
            batches.extend(np.split(group, len(group) // self.batch_size))
        return [batches[index] for index in generator.permutation(len(batches))]

    def batch(self, position: int) -> dict[str, torch.Tensor]:
        """The `position`-th batch, padded, as the model's `unsupervised_input_ids` and `unsupervised_attention_mask`."""
        pass_index, within = divmod(position, self.batches_per_pass)
        if pass_index != self._pass_index:
            self._pass_index, self._pass_batches = pass_index, self.pass_batches(pass_index)
        padded = self.collator([{"input_ids": self.input_ids[index]} for index in self._pass_batches[within]])
        return {"unsupervised_input_ids": padded["input_ids"], "unsupervised_attention_mask": padded["attention_mask"]}


class WeightAveraging(TrainerCallback):
    """An exponential moving average of the model's parameters, updated after each optimizer step with the decay
    min(`decay`, (1 + step) / (10 + step)), so that the first steps' random weights fade fast."""

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"The weight averaging decay must be in (0, 1), got {decay}.")
        self.decay = decay
        self.averages: list[torch.Tensor] | None = None
        self.swapped = False

    @staticmethod
    def parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
        return [(name, parameter) for name, parameter in model.named_parameters() if parameter.requires_grad]

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.averages is None:  # a resumed run has them from its checkpoint already
            self.averages = [parameter.detach().clone() for _, parameter in self.parameters(model)]

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs):
        decay = min(self.decay, (1 + state.global_step) / (10 + state.global_step))
        for average, (_, parameter) in zip(self.averages, self.parameters(model)):
            average.lerp_(parameter.detach(), 1.0 - decay)

    @contextmanager
    def swapped_in(self, model: torch.nn.Module):
        """The averaged weights in the model (the training weights kept aside) for the block's duration."""
        self.swap(model)
        try:
            yield
        finally:
            self.swap(model)

    @torch.no_grad()
    def swap(self, model: torch.nn.Module) -> None:
        for average, (_, parameter) in zip(self.averages, self.parameters(model)):
            kept = parameter.detach().clone()
            parameter.copy_(average)
            average.copy_(kept)
        self.swapped = not self.swapped

    def save_training_weights(self, model: torch.nn.Module, checkpoint: str | Path) -> None:
        """While the averages are swapped in, writes the training weights (kept aside) into `checkpoint`."""
        if not self.swapped:
            raise RuntimeError("The training weights are in the model; save the checkpoint with the averages in.")
        names = [name for name, _ in self.parameters(model)]
        save_file({name: average.contiguous() for name, average in zip(names, self.averages)},
                  str(Path(checkpoint) / TRAINING_WEIGHTS_FILE))  # fmt: skip

    @torch.no_grad()
    def resume(self, model: torch.nn.Module, checkpoint: str | Path) -> None:
        """After the checkpoint's (averaged) weights were loaded into the model: they become the averages, and the
        model takes the training weights back."""
        path = Path(checkpoint) / TRAINING_WEIGHTS_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{checkpoint} has no {TRAINING_WEIGHTS_FILE}: it was not saved with weight averaging."
            )
        training_weights = load_file(str(path))
        self.averages = []
        for name, parameter in self.parameters(model):
            self.averages.append(parameter.detach().clone())
            parameter.copy_(training_weights[name].to(parameter.device))

"""Language-model pretraining of the LSTM on unlabeled reviews: the corpus, its packing, the trainer, the results.

The corpus is the labeled training reviews the classifier trains on plus the unlabeled ones (IMDB's `unsupervised`
split, 50,000 reviews), never the test split nor the classifier's validation reviews; a seeded slice of unlabeled
reviews is held out to measure validation perplexity. The vocabulary is learned on the pretraining reviews alone.

Reviews are packed one after another, each ended by `[SEP]`, and cut into segments of `segment_length` tokens, so
no step is spent on padding. Both language models read across the review boundaries inside a segment, as GPT-2
reads across `<|endoftext|>`: the `[SEP]` tells them a review has ended (the forward model learns to predict a
review's end, the backward model its start), and each segment starts from a zero state, as the classifier starts
each review.
"""

import math
import time

from datasets import DatasetDict, concatenate_datasets
from transformers import DataCollatorForLanguageModeling, EarlyStoppingCallback, PreTrainedTokenizerBase, Trainer
from transformers.trainer_utils import EvalLoopOutput

from .arguments import PretrainingDataArguments, SentimentTrainingArguments
from .builders import word_tokenizer
from .data import UNLABELED_SPLIT, load_sentiment_splits, load_unlabeled_reviews
from .tokenizer import SEP_TOKEN
from .training import save_run_folder, software_versions


def load_pretraining_corpus(data_args: PretrainingDataArguments, seed: int) -> DatasetDict:
    """The pretraining reviews (`train`: labeled training reviews unless `pretrain_on_training_reviews` is false, then
    unlabeled ones) and the held-out unlabeled reviews (`validation`), each a dataset of `text` only."""
    unlabeled = load_unlabeled_reviews(data_args, seed)
    parts = []
    if data_args.pretrain_on_training_reviews:
        labeled = load_sentiment_splits(
            data_args,
            validation_fraction=data_args.validation_fraction,
            seed=data_args.seed_of_split(seed),
            max_train_samples=data_args.max_train_samples,
        )["train"]
        parts.append(labeled.select_columns(["text"]))
    held_out = data_args.lm_validation_samples
    wanted = held_out + (data_args.max_unlabeled_samples or len(unlabeled) - held_out)
    if not 0 <= held_out < wanted <= len(unlabeled):
        raise ValueError(
            f"Asked for {held_out} held-out and {wanted - held_out} training reviews of the '{UNLABELED_SPLIT}' "
            f"split, which has {len(unlabeled)}."
        )
    return DatasetDict(
        train=concatenate_datasets([*parts, unlabeled.select(range(held_out, wanted))]),
        validation=unlabeled.select(range(held_out)),
    )


def pretraining_tokenizer(
    corpus: DatasetDict, data_args: PretrainingDataArguments, vocab_size: int, args: SentimentTrainingArguments
) -> PreTrainedTokenizerBase:
    """The word-level tokenizer (`word_tokenizer`) learned on the pretraining reviews (never the held-out or test
    ones), with `[SEP]` to end each packed review."""
    return word_tokenizer(corpus["train"]["text"], data_args, vocab_size, args, sep_token=SEP_TOKEN)


def pack_reviews(
    corpus: DatasetDict, tokenizer: PreTrainedTokenizerBase, segment_length: int, args: SentimentTrainingArguments
) -> DatasetDict:
    """Each split's reviews tokenized whole, each followed by `[SEP]`, concatenated and cut into `input_ids` rows of
    `segment_length` tokens; the tokens after the last whole segment of each batch of 1,000 reviews are dropped."""
    if segment_length < 2:
        raise ValueError(f"segment_length must be at least 2 (a word and the next), got {segment_length}.")

    def pack(batch):
        stream = [
            token
            for ids in tokenizer(batch["text"], truncation=False, verbose=False)["input_ids"]
            for token in (*ids, tokenizer.sep_token_id)
        ]
        usable = len(stream) - len(stream) % segment_length
        return {"input_ids": [stream[start : start + segment_length] for start in range(0, usable, segment_length)]}

    with args.main_process_first(desc="packing"):
        return corpus.map(pack, batched=True, remove_columns=["text"], desc="Packing reviews")


class LanguageModelTrainer(Trainer):
    """A `Trainer` whose evaluations also report `perplexity`: exp of the loss, which the model computes with the
    full softmax in evaluation. Every segment has the same length, so the mean loss over segments is the mean over
    predicted tokens, and the perplexity is exact."""

    def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kwargs) -> EvalLoopOutput:
        output = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        loss = output.metrics.get(f"{metric_key_prefix}_loss")
        if loss is not None:
            output.metrics[f"{metric_key_prefix}_perplexity"] = math.exp(loss)
        return output


def build_pretraining_trainer(
    model, args: SentimentTrainingArguments, segments: DatasetDict, tokenizer: PreTrainedTokenizerBase
) -> LanguageModelTrainer:
    """A trainer over packed segments that evaluates perplexity on the held-out ones and keeps the checkpoint that
    validation prefers (`metric_for_best_model`)."""
    # The model returns no logits worth gathering (the full softmax's would be segments x length x vocabulary).
    args.prediction_loss_only = True
    # The tokens the language models have read: what `all_results.json` reports.
    args.include_num_input_tokens_seen = "all"
    callbacks = [EarlyStoppingCallback(args.early_stopping_patience)] if args.early_stopping_patience else []
    return LanguageModelTrainer(
        model=model,
        args=args,
        train_dataset=segments["train"],
        eval_dataset=segments["validation"],
        processing_class=tokenizer,
        # labels = input_ids; the model shifts them for each direction.
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=callbacks,
    )


def corpus_statistics(corpus: DatasetDict, segments: DatasetDict, segment_length: int) -> dict:
    """What the run pretrained on: reviews and packed tokens of each split."""
    return {
        "pretraining_reviews": len(corpus["train"]),
        "validation_reviews": len(corpus["validation"]),
        "pretraining_tokens": len(segments["train"]) * segment_length,
        "validation_tokens": len(segments["validation"]) * segment_length,
        "segment_length": segment_length,
    }


def pretrain_and_save(
    trainer: LanguageModelTrainer, recipe: dict, corpus: dict, resume_from_checkpoint: str | bool | None = None
) -> dict:
    """Trains (resuming from a checkpoint if asked), evaluates the chosen checkpoint on the held-out reviews, and saves
    a Hub-ready folder (`save_run_folder`; `finish_run` moves it into `output_dir`): the model (safetensors, config
    with `auto_map` for `AutoModel`, `AutoModelForPreTraining` and `AutoModelForSequenceClassification`, code files),
    the tokenizer, the trainer state, `training_recipe.yaml` and `all_results.json`: the `corpus`
    (`corpus_statistics`), tokens seen, validation loss and perplexity, training time and speed, parameter count,
    `software_versions`."""
    started = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    train_seconds = time.perf_counter() - started
    eval_metrics = trainer.evaluate()
    results = {
        **corpus,
        "train_loss": train_output.training_loss,
        "train_runtime_seconds": train_seconds,
        "epochs": trainer.state.epoch or 0.0,
        "tokens_seen": trainer.state.num_input_tokens_seen,
        # In this session (a resumed run counts what it trained itself), validation passes included.
        "train_tokens_per_second": train_output.metrics["train_samples_per_second"] * corpus["segment_length"],
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "num_parameters": trainer.model.num_parameters(),
        "num_processes": trainer.args.world_size,
        "software_versions": software_versions(),
        **eval_metrics,
    }
    save_run_folder(trainer, recipe, results)
    return results

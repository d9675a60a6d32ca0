"""A fast tokenizer that cuts a long text the way its model was trained and evaluated: keeping the text's head, its
tail, or both.

The `tokenizers` library can only cut a text's end (or its start). Reviews often state their verdict in the last
lines, so models here are trained on the first `head_tokens` tokens and the end of a long review. For `pipeline`,
`AutoTokenizer` and every other door to give the numbers the model card reports, the cut must travel with the model:
it is saved in `tokenizer_config.json` (`truncation`, `head_tokens`, `model_max_length`) and applied by this class,
which `save_pretrained` copies into the model folder (`auto_map`), so `trust_remote_code=True` loads it without this
project. This file imports only `transformers`, for that reason.

The verbalizer model cuts a row that reaches it too long by the same rule (`tokens_kept_from_start`): its
configuration imports this file relatively, through models/verbalizer/tokenization_truncation.py, a link to it, since a
saved folder holds the configuration and this file side by side and `save_pretrained` copies only a file's sibling
imports.

Loaded without `trust_remote_code`, a folder of a stock architecture falls back to the library's own tokenizer,
which honours `truncation_side` (so `head` and `tail` still cut as training did) but cannot keep both ends: a
`head_tail` folder then keeps the head only.
"""

from transformers import TokenizersBackend
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy

TRUNCATIONS = ("head", "tail", "head_tail")
# The side the library cuts for each rule (`truncation_side`); head_tail cuts the middle, by this class only.
TRUNCATION_SIDES = {"head": "right", "tail": "left", "head_tail": "right"}


def special_token_layout(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text (`[CLS]` and `[SEP]` for BERT, and for a verbalizer's
    tokenizer its template after the text)."""
    content = tokenizer("movie", add_special_tokens=False)["input_ids"]
    full = tokenizer("movie")["input_ids"]
    for start in range(len(full) - len(content) + 1):
        if full[start : start + len(content)] == content:
            return full[:start], full[start + len(content) :]
    raise ValueError(f"Cannot find where the text goes in {tokenizer.name_or_path}'s special tokens.")


def tokens_kept_from_start(
    max_length: int, truncation: str, head_tokens: int | None, leading: int, trailing: int
) -> int:
    """Tokens a row longer than `max_length` keeps from its start, the `leading` tokens before the text included; the
    rest of `max_length` comes from its end, the `trailing` tokens after the text included (special tokens, and a
    verbalizer's template). The one rule of every cut: the tokenizer's and the verbalizer model's.

    A rule that keeps no token of the text, or with `head_tail` none of its start or none of its end, is refused.
    """
    kept = {"head": max_length - trailing, "tail": leading, "head_tail": head_tokens}[truncation]
    text_from_start, text_from_end = kept - leading, max_length - kept - trailing
    fewest_from_each_end = 1 if truncation == "head_tail" else 0
    if min(text_from_start, text_from_end) < fewest_from_each_end or text_from_start + text_from_end < 1:
        raise ValueError(
            f"max_length {max_length} leaves no room for the text with truncation={truncation!r}, "
            f"head_tokens={head_tokens}, {leading} token(s) before the text and {trailing} after it."
        )
    return kept


def cut_positions(length: int, max_length: int, kept_from_start: int) -> list[int]:
    """The positions a row of `length` tokens keeps: all of them if it fits, else its first `kept_from_start` and
    its last `max_length - kept_from_start`."""
    if length <= max_length:
        return list(range(length))
    return [*range(kept_from_start), *range(length - (max_length - kept_from_start), length)]


class TruncatingTokenizer(TokenizersBackend):
    r"""
    A `tokenizers`-backed tokenizer that, called with `truncation=True`, cuts each text to `max_length` tokens
    (default `model_max_length`) by one rule, special tokens always kept.

    Args:
        truncation (`str`, *optional*, defaults to `"head"`):
            What a text longer than `max_length` keeps: `"head"` (its start), `"tail"` (its end) or `"head_tail"`
            (its first `head_tokens` tokens and its end).
        head_tokens (`int`, *optional*):
            With `truncation="head_tail"`, the tokens kept from the start of the row, leading special tokens (such as
            `[CLS]`) included. Required then, and only then.

    Overflowing windows (`return_overflowing_tokens=True` with a `stride`) are the library's own: they cover the
    whole text, so no rule applies. Text pairs are refused when truncating, since the rule is for one text.
    """

    # No `__init__` of its own: `TokenizersBackend` then loads `tokenizer.json` as it is. The two settings arrive as
    # keyword arguments, which the base class keeps in `init_kwargs` and saves in `tokenizer_config.json`.
    _layout: tuple[int, int] | None = None

    @property
    def truncation(self) -> str:
        truncation = self.init_kwargs.get("truncation", "head")
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}.")
        return truncation

    @property
    def head_tokens(self) -> int | None:
        head_tokens = self.init_kwargs.get("head_tokens")
        if (head_tokens is not None) != (self.truncation == "head_tail"):
            raise ValueError(f"head_tokens is set with truncation='head_tail' and only then; got {head_tokens}.")
        return head_tokens

    def kept_from_start(self, max_length: int) -> int:
        """Tokens a too-long row keeps from its start; the rest of `max_length` comes from its end."""
        if self._layout is None:
            leading, trailing = special_token_layout(self)
            self._layout = (len(leading), len(trailing))
        return tokens_kept_from_start(max_length, self.truncation, self.head_tokens, *self._layout)

    def _encode_plus(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors=None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        **kwargs,
    ) -> BatchEncoding:
        # The library cuts a text's head or tail itself, faster, and so does a folder loaded without this class; its
        # direction (`truncation_side`) is saved to match `truncation`. Only head_tail needs the cut below.
        if self.truncation_side != TRUNCATION_SIDES[self.truncation]:
            raise ValueError(
                f"truncation={self.truncation!r} cuts on the {TRUNCATION_SIDES[self.truncation]!r} side, but "
                f"truncation_side is {self.truncation_side!r}."
            )
        library_cut = (
            truncation_strategy == TruncationStrategy.DO_NOT_TRUNCATE
            or max_length is None
            or return_overflowing_tokens
            or self.truncation != "head_tail"
        )
        if library_cut:
            return super()._encode_plus(
                text, text_pair, add_special_tokens, padding_strategy, truncation_strategy, max_length, stride,
                pad_to_multiple_of=pad_to_multiple_of, padding_side=padding_side, return_tensors=return_tensors,
                return_attention_mask=return_attention_mask, return_overflowing_tokens=return_overflowing_tokens,
                **kwargs,
            )  # fmt: skip
        if text_pair is not None:
            raise ValueError("TruncatingTokenizer cuts single texts; text pairs cannot be truncated by its rule.")
        kept_from_start = self.kept_from_start(max_length)
        kwargs.pop("verbose", None)  # the whole text is longer than max_length on purpose: no warning
        batched = isinstance(text, (list, tuple))
        whole = super()._encode_plus(
            list(text) if batched else [text], None, add_special_tokens,
            return_attention_mask=return_attention_mask, verbose=False, **kwargs,
        )  # fmt: skip
        rows = []
        for index in range(len(whole["input_ids"])):
            kept = cut_positions(len(whole["input_ids"][index]), max_length, kept_from_start)
            rows.append({field: [values[index][position] for position in kept] for field, values in whole.items()})
        cut = {field: [row[field] for row in rows] for field in whole.keys()}
        if not batched and return_tensors is None:  # as the library does: one text, no tensors, no batch axis
            cut = {field: values[0] for field, values in cut.items()}
        return self.pad(
            cut,
            padding=padding_strategy,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_attention_mask=return_attention_mask,
            return_tensors=return_tensors,
        )


__all__ = ["TruncatingTokenizer"]

"""Sort by length, batch, restore order: the one loop behind every batched pass over reviews of mixed lengths.

A batch is padded to its longest row, and IMDB reviews run from 10 to over 1,000 tokens, so batches in arrival order
spend most of their time on padding. Sorted, each batch pads to similar lengths; results are written back at each
row's own index, so callers see them in the order given.
"""

from collections.abc import Iterator, Sequence

import numpy as np


def length_order(lengths: Sequence[int]) -> np.ndarray:
    """The row indices, shortest row first (a stable sort: equal lengths keep their order)."""
    return np.argsort(np.asarray(lengths), kind="stable")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Batches of at most `batch_size` row indices, shortest rows first; together they cover every row once."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    order = length_order(lengths)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def restore_order(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """`values` computed on rows taken in `order`, put back in the rows' own order."""
    restored = np.empty_like(values)
    restored[order] = values
    return restored

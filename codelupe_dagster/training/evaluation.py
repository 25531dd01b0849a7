"""The held-out loss of a training run, before and after training, summed over the ranks."""

from __future__ import annotations

from codelupe_dagster.training import distributed
from codelupe_dagster.training.schedule import MicroBatch
from codelupe_dagster.training.trainable import TrainableModel


def evaluate(trainable: TrainableModel, eval_batches: list[MicroBatch], chunk_tokens: int) -> float | None:
    """Mean held-out loss per scored token; None without held-out rows. Leaves the model in train mode.
    Each rank scores its share of the batches; the sums are added up over the ranks."""
    import torch

    if not eval_batches:
        return None
    ctx = distributed.current()
    trainable.model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), trainable.autocast():
        for rows, counts in trainable.share(eval_batches, ctx):
            loss_sum, n = trainable.loss_sum(rows, chunk_tokens)
            if counts:
                total += float(loss_sum)
                count += n
    trainable.model.train()
    total, count_sum = distributed.sum_floats([total, float(count)], ctx, trainable.device)
    return total / count_sum if count_sum else None

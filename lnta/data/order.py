"""Training order: a shuffle that depends only on (seed, epoch), so a run can restart mid-epoch exactly."""
from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler


class EpochShuffle(Sampler):
    """Yields ``(index, item_seed)`` in a shuffled order drawn from ``(seed, epoch)`` alone.

    The dataset draws an item's own randomness (e.g. the skip s) from ``item_seed``, so clips do not
    depend on the global RNG, the number of workers, prefetching, or where a run was resumed.
    ``seed`` is the run seed (the commands pass ``seed`` to the data module as ``shuffle_seed``).
    :meth:`resume` makes the next pass start ``done`` items into ``epoch``'s order.
    """

    def __init__(self, size: int, seed: int):
        self.size = size
        self.seed = int(seed)
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, done: int) -> None:
        self.epoch, self._skip = epoch, done

    def __len__(self) -> int:
        return self.size  # the full epoch: Lightning counts the batches already done itself

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size)
        item_seeds = rng.integers(2**63 - 1, size=self.size)
        skip, self._skip = self._skip, 0
        for i, s in zip(order[skip:].tolist(), item_seeds[skip:].tolist()):
            yield i, s

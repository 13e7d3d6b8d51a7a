"""Samplers that tell the dataset which pass over the data an index is from."""
from typing import Iterator

import torch
from mmengine.dataset import InfiniteSampler

from mmdet.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class InfiniteRoundSampler(InfiniteSampler):
    """``InfiniteSampler`` that yields ``round * len(dataset) + i``.

    Pass ``round`` (0, 1, 2, ...) is the number of complete permutations
    drawn before. Datasets that understand it (``PCNetInstanceDataset``)
    decode ``i`` and ``round`` and seed each sample from ``(seed, round,
    i)``, so the training stream is reproducible whatever the number of
    workers and every pass gets fresh augmentations. Other datasets would
    see out-of-range indices: use the plain ``InfiniteSampler`` for them.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Permute each pass. Defaults to True.
        seed (int, optional): Shuffle seed (synchronised across ranks when
            None).
    """

    def _infinite_indices(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        sample_round = 0
        while True:
            if self.shuffle:
                order = torch.randperm(self.size, generator=generator)
            else:
                order = torch.arange(self.size)
            yield from (order + sample_round * self.size).tolist()
            sample_round += 1

"""The decoded-and-resized image cache: same pairs as resizing each time, read once, bounded."""

from __future__ import annotations

import numpy as np

from gconet_lab.data import index_set, load_sample
from gconet_lab.data.cache import ResizedSampleCache, resize_pair
from gconet_lab.data.datasets import GroupPairDataset


def test_cache_reads_each_sample_once_and_returns_resized_pairs(write_cosod_set):
    root = write_cosod_set({"ant": 3, "bee": 3})
    sample = index_set(root, "Tiny").groups[0].samples[0]
    reads = []

    def load(item):
        reads.append(item)
        return load_sample(item)

    cache = ResizedSampleCache(16)
    first = cache.get(sample, load)
    second = cache.get(sample, load)
    assert len(reads) == 1 and first is second
    assert first[0].shape == (16, 16, 3) and first[0].dtype == np.uint8
    assert first[1].shape == (16, 16) and 0.0 <= first[1].min() <= first[1].max() <= 1.0
    expected = resize_pair(*load_sample(sample), 16)
    assert np.array_equal(first[0], expected[0]) and np.array_equal(first[1], expected[1])


def test_a_full_cache_stops_growing_but_batches_stay_the_same(write_cosod_set):
    root = write_cosod_set({"ant": 3, "bee": 3})
    groups = index_set(root, "Tiny").groups
    cached = GroupPairDataset(groups, image_size=16)
    uncached = GroupPairDataset(groups, image_size=16, cache_bytes=0)
    draw = next(iter(cached.make_sampler(max_group_size=3, seed=0)))
    a, b = cached[draw], uncached[draw]
    assert len(cached.cache) > 0 and len(uncached.cache) == 0
    assert (a["images"] == b["images"]).all() and (a["masks"] == b["masks"]).all()

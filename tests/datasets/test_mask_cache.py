"""TightMaskCache: round trip, LRU eviction, byte budget."""
import numpy as np
import pytest

from mmdeocc.datasets import TightMaskCache


def test_round_trip_and_lru_eviction():
    rng = np.random.default_rng(0)
    masks = [rng.random((40, 30)) < 0.5 for _ in range(4)]
    cache = TightMaskCache(max_bytes=3 * (150 + 120))  # 150 packed bytes each
    for k in range(3):
        cache.put(k, masks[k])
    np.testing.assert_array_equal(cache.get(0), masks[0])  # 0 now recent
    cache.put(3, masks[3])  # evicts the least recently used: 1
    assert cache.get(1) is None
    for k in (0, 2, 3):
        got = cache.get(k)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, masks[k])
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    assert (cache.hits, cache.misses) == (4, 1)


def test_disabled_and_oversized():
    cache = TightMaskCache(max_bytes=0)
    cache.put('a', np.ones((8, 8), bool))
    assert cache.get('a') is None and len(cache) == 0
    with pytest.raises(ValueError):
        TightMaskCache(max_bytes=-1)

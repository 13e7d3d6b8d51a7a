"""Fixtures of the inference-core tests (helpers in deocc_helpers.py)."""
import numpy as np
import pytest

from deocc_helpers import load_coco_scenes, random_pcnet, synthetic_scene


@pytest.fixture(autouse=True)
def single_thread(one_torch_thread):
    """Tiny networks run fastest (and robustly on a loaded machine) with one
    intra-op thread; restore the setting afterwards."""


@pytest.fixture(scope='session')
def model():
    """Narrow random PCNet-M working at 32 x 32 crops."""
    return random_pcnet()


@pytest.fixture(scope='session')
def coco_scenes():
    """Real coco128 masks: list of (masks (N, H, W) bool, category ids)."""
    return load_coco_scenes()


@pytest.fixture(scope='session')
def synthetic_scenes():
    """Dozens of random scenes of several kinds."""
    rng = np.random.default_rng(0)
    scenes = []
    for k in range(24):
        h, w = int(rng.integers(24, 72)), int(rng.integers(24, 72))
        num = int(rng.integers(2, 9))
        scenes.append(
            synthetic_scene(
                rng, h, w, num, disjoint=k % 4 != 3, gaps=k % 4 == 2))
    return scenes

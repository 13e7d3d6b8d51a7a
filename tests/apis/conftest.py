"""Fixtures of the API tests; the builders live in tests/engine."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'engine'))

from det_fixtures import (make_scenes, save_detector,  # noqa: E402
                          save_pcnet_m, tiny_detector_config)


@pytest.fixture(autouse=True)
def single_thread(one_torch_thread):
    """One intra-op thread (tiny networks, loaded machine)."""


@pytest.fixture(scope='session')
def api_scenes(tmp_path_factory):
    """Three 96 x 96 occlusion scenes: the annotation file path."""
    return make_scenes(tmp_path_factory.mktemp('api_scenes'), seed=3)


@pytest.fixture(scope='session')
def api_pcnet(tmp_path_factory):
    """A random tiny PCNet-M checkpoint."""
    return save_pcnet_m(tmp_path_factory.mktemp('api_pcnet') / 'pcnet.pth')


@pytest.fixture(scope='session')
def api_detector(api_scenes, tmp_path_factory):
    """(config file, checkpoint) of a random tiny Mask R-CNN."""
    folder = tmp_path_factory.mktemp('api_det')
    cfg = tiny_detector_config(api_scenes.parent, folder)
    ckpt = save_detector(cfg, folder / 'det.pth')
    cfg_file = folder / 'det_cfg.py'
    cfg.dump(str(cfg_file))
    return cfg_file, ckpt

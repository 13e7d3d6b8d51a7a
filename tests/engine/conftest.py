"""Fixtures of the MMDetection-integration tests (builders in
det_fixtures.py)."""
import pytest

from det_fixtures import (make_scenes, save_detector, save_pcnet_c,
                          save_pcnet_m, tiny_detector_config)


@pytest.fixture(autouse=True)
def single_thread(one_torch_thread):
    """One intra-op thread: tiny networks run fastest that way on a loaded
    machine; restore the setting afterwards."""


@pytest.fixture(scope='session')
def scenes(tmp_path_factory):
    """Three 96 x 96 occlusion scenes: the annotation file path."""
    return make_scenes(tmp_path_factory.mktemp('engine_scenes'))


@pytest.fixture(scope='session')
def pcnet_ckpt(tmp_path_factory):
    """A random tiny PCNet-M checkpoint with its config in the meta."""
    return save_pcnet_m(tmp_path_factory.mktemp('pcnet') / 'pcnet_m.pth')


@pytest.fixture(scope='session')
def pcnet_c_ckpt(tmp_path_factory):
    """A random narrow PCNet-C checkpoint with its config in the meta."""
    return save_pcnet_c(tmp_path_factory.mktemp('pcnet_c') / 'pcnet_c.pth')


@pytest.fixture(scope='session')
def det_cfg(scenes, tmp_path_factory):
    """The tiny Mask R-CNN config on the test scenes."""
    return tiny_detector_config(scenes.parent,
                                tmp_path_factory.mktemp('det_work'))


@pytest.fixture(scope='session')
def det_ckpt(det_cfg, tmp_path_factory):
    """Random tiny Mask R-CNN weights saved like an mmdet checkpoint."""
    return save_detector(det_cfg,
                         tmp_path_factory.mktemp('det') / 'mask_rcnn.pth')

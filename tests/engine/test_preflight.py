"""Training configs are checked for missing local files before building."""
import pytest
from mmengine.config import Config

from mmdeocc.engine.preflight import (MissingTrainingFileError,
                                      check_training_files)


def _cfg(tmp_path, **loss):
    ann = tmp_path / 'ann.json'
    ann.write_text('{}')
    return Config(dict(
        model=dict(type='PCNetC', inpainting_loss=dict(
            vgg=dict(type='VGG16Features', weights=str(tmp_path / 'v.pth')),
            **loss)),
        train_dataloader=dict(dataset=dict(ann_file=str(ann)))))


def test_missing_vgg_is_named(tmp_path):
    with pytest.raises(MissingTrainingFileError, match='v.pth does not '
                       'exist.*style_weight=0'):
        check_training_files(_cfg(tmp_path), 'c.py')


def test_vgg_not_needed_without_perceptual_and_style(tmp_path):
    check_training_files(
        _cfg(tmp_path, perceptual_weight=0, style_weight=0), 'c.py')


def test_present_files_pass_and_missing_load_from_fails(tmp_path):
    cfg = _cfg(tmp_path)
    (tmp_path / 'v.pth').write_bytes(b'x')
    check_training_files(cfg, 'c.py')
    cfg.load_from = str(tmp_path / 'init.pth')
    with pytest.raises(MissingTrainingFileError, match='init.pth'):
        check_training_files(cfg, 'c.py')
    cfg.resume = True  # resuming ignores load_from
    check_training_files(cfg, 'c.py')

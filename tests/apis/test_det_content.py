"""Content completion of de-occluded detector predictions
(:class:`DetSampleContentCompleter`): layers for the de-occluded instances
only, images from arrays or from ``img_path``, lossless compact form, and
clear errors."""
import pickle
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'engine'))

from det_fixtures import save_pcnet_c, scene_masks  # noqa: E402

from mmdeocc.deocclusion import (DetContentError,  # noqa: E402
                                 build_det_sample_content_completer,
                                 build_det_sample_deoccluder, content_options,
                                 dilate_square)
from mmdeocc.structures import ContentLayers  # noqa: E402


@pytest.fixture(scope='module')
def pcnet_c(tmp_path_factory):
    return save_pcnet_c(tmp_path_factory.mktemp('pcnet_c') / 'pcnet_c.pth')


def _samples(ann_file):
    """One data sample per scene image: its modal masks as predictions,
    scores descending except object 1, which is below the threshold."""
    samples, images = [], []
    for file_name, (modal, _, _) in scene_masks(ann_file).items():
        path = str(Path(ann_file).parent / 'images' / file_name)
        num = len(modal)
        pred = InstanceData()
        pred.masks = torch.from_numpy(modal)
        pred.scores = torch.linspace(0.9, 0.6, num)
        pred.scores[1] = 0.1
        pred.labels = torch.zeros(num, dtype=torch.int64)
        pred.bboxes = torch.zeros(num, 4)
        sample = DetDataSample(metainfo=dict(
            img_path=path, ori_shape=modal.shape[1:], img_id=len(samples)))
        sample.pred_instances = pred
        samples.append(sample)
        images.append(mmcv.imread(path, channel_order='rgb'))
    return samples, images


@pytest.fixture(scope='module')
def deoccluded(api_scenes, api_pcnet):
    deocclude = build_det_sample_deoccluder(
        pcnet_m=str(api_pcnet), score_thr=0.5, predicted_masks=False)
    samples, images = _samples(api_scenes)
    return deocclude(samples), images


def test_layers_cover_deoccluded_instances_only(deoccluded, pcnet_c):
    samples, images = deoccluded
    complete = build_det_sample_content_completer(str(pcnet_c))
    assert complete.completer.input_size == 128  # the checkpoint's in_size
    complete(samples, images)
    completed = 0
    for sample, image in zip(samples, images):
        pred = sample.pred_instances
        layers = sample.content_layers
        keep = np.flatnonzero(pred.deoccluded.numpy())
        assert 1 not in keep and len(keep) == len(pred.masks) - 1
        assert np.array_equal(layers.instance_indices, keep)
        assert np.array_equal(layers.modal_masks, pred.masks.numpy()[keep])
        assert np.array_equal(layers.amodal_masks,
                              pred.amodal_masks.numpy()[keep])
        # Only the completed pixels differ from the image; the visible
        # pixels of every layer are the image's.
        for k in range(layers.num_objects):
            changed = (layers.rgb[k] != image).any(-1)
            assert not (changed & ~layers.fill_masks[k]).any()
            assert not (layers.fill_masks[k] & layers.modal_masks[k]).any()
            completed += int(changed.sum())
        # The low-score detection stays in the background: its pixels are
        # only inpainted where a de-occluded object's hole reaches.
        hole = dilate_square(
            torch.from_numpy(layers.modal_masks.any(0, keepdims=True)),
            layers.background_dilation)[0].numpy()
        assert np.array_equal(layers.background_hole, hole)
        assert not (layers.background != image)[~hole].any()
    assert completed > 0, 'no pixel completed: the test is vacuous'


def test_image_from_img_path_equals_given_image(deoccluded, pcnet_c):
    samples, images = deoccluded
    complete = build_det_sample_content_completer(str(pcnet_c))
    given = [s.content_layers for s in complete(samples[:1], images[:1])]
    read = [s.content_layers for s in complete(samples[:1])]
    for a, b in zip(given, read):
        assert np.array_equal(a.rgb, b.rgb)
        assert np.array_equal(a.background, b.background)


def test_compact_dict_round_trip(deoccluded, pcnet_c):
    samples, images = deoccluded
    complete = build_det_sample_content_completer(str(pcnet_c))
    layers = complete(samples[:1], images[:1])[0].content_layers
    data = pickle.loads(pickle.dumps(layers.to_dict()))
    full = layers.rgb.nbytes + layers.background.nbytes
    assert len(pickle.dumps(data)) < full / 2  # only completed pixels kept
    back = ContentLayers.from_dict(images[0], data)
    for name in ('image', 'background', 'background_hole', 'rgb',
                 'fill_masks', 'alpha', 'modal_masks', 'amodal_masks',
                 'instance_indices'):
        assert np.array_equal(getattr(back, name), getattr(layers, name)), \
            name
    broken = dict(data, fill_rgb=[v[:-1] for v in data['fill_rgb']])
    if any(len(v) for v in data['fill_rgb']):
        with pytest.raises(ValueError, match='fill_rgb'):
            ContentLayers.from_dict(images[0], broken)
    with pytest.raises(ValueError, match='missing fields'):
        ContentLayers.from_dict(images[0], {'height': 1})


def test_clear_errors(deoccluded, pcnet_c, api_scenes):
    samples, images = deoccluded
    complete = build_det_sample_content_completer(str(pcnet_c))
    # not de-occluded yet
    raw, _ = _samples(api_scenes)
    with pytest.raises(DetContentError, match='DetSampleDeOccluder'):
        complete(raw[:1], images[:1])
    # no image anywhere
    sample = samples[0].clone()
    sample.set_metainfo(dict(img_path=None))
    with pytest.raises(DetContentError, match='no img_path'):
        complete([sample])
    # a missing file, named
    sample.set_metainfo(dict(img_path='/nonexistent/x.png'))
    with pytest.raises(DetContentError, match='/nonexistent/x.png'):
        complete([sample])
    # an image of another size
    with pytest.raises(DetContentError, match='does not match'):
        complete(samples[:1], [images[0][:-4]])
    with pytest.raises(DetContentError, match='2 images for 1'):
        complete(samples[:1], images[:2])
    # options
    with pytest.raises(DetContentError, match='unknown content options'):
        content_options(dict(input_sise=256))
    with pytest.raises(DetContentError, match='not accepted'):
        content_options(dict(model=None))
    with pytest.raises(DetContentError, match='multiple of 128'):
        build_det_sample_content_completer(str(pcnet_c),
                                           dict(input_size=100))
    with pytest.raises(FileNotFoundError):
        build_det_sample_content_completer('/nonexistent/pcnet_c.pth')


def test_category_ids_reach_pcnet_c(deoccluded):
    """A PCNet-C with use_category gets the dataset ids of the labels."""
    from det_fixtures import PCNET_C_CFG
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(dict(PCNET_C_CFG, use_category=True)).eval()
    seen = []
    complete_fn = model.complete

    def spy(rgb, hole, modal, category=None):
        seen.append(category)
        return complete_fn(rgb, hole, modal, category)

    model.complete = spy
    with pytest.raises(DetContentError, match='label_to_category'):
        build_det_sample_content_completer(model)
    samples, images = deoccluded
    complete = build_det_sample_content_completer(
        model, label_to_category={0: 7})
    complete(samples[:1], images[:1])
    # object crops get the mapped id (the background pass, with an empty
    # modal channel, last)
    assert len(seen) >= 2 and set(torch.cat(seen[:-1]).tolist()) == {7}
    with pytest.raises(Exception, match='label 0 has no entry'):
        build_det_sample_content_completer(
            model, label_to_category={3: 7})(samples[:1], images[:1])


def test_image_without_detections(deoccluded, pcnet_c):
    samples, images = deoccluded
    sample = samples[0].clone()
    height, width = images[0].shape[:2]
    pred = InstanceData()
    pred.masks = torch.zeros((0, height, width), dtype=torch.bool)
    pred.amodal_masks = pred.masks.clone()
    pred.deoccluded = torch.zeros(0, dtype=torch.bool)
    sample.pred_instances = pred
    complete = build_det_sample_content_completer(str(pcnet_c))
    layers = complete([sample], images[:1])[0].content_layers
    assert layers.num_objects == 0 and not layers.background_hole.any()
    assert np.array_equal(layers.background, images[0])

"""DeOcclusionHook in mmengine's test loop, and the DeOcclusionDetector
wrapper under inference_detector / DetInferencer: both give the same
amodal masks and orders, which the project's metrics consume."""
import copy
import math
import pickle
import time

import numpy as np
import pytest
import torch
from det_fixtures import box_only_detector_config, load_tool
from mmengine.config import Config
from mmengine.runner import Runner

from mmdeocc.apis import wrap_detector_config
from mmdeocc.deocclusion import (PREDICTED_MASKS_GAP_TOLERANCE,
                                 USER_AMODAL_UNION_VISIBLE, DeOccluder,
                                 DetDeOcclusionConfigError,
                                 DetectorWithoutMasksError)
from mmdeocc.engine import DeOcclusionDetector, DeOcclusionHook
from mmdeocc.models import load_pcnet_m
from mmdeocc.structures import decode_rle

MAX_INSTANCES = 3


def _unique(name):
    return f'{name}_{time.time_ns()}'


@pytest.fixture(scope='module')
def hook_run(det_cfg, det_ckpt, pcnet_ckpt, tmp_path_factory):
    """runner.test() with the hook, the project's metrics and the dump."""
    work = tmp_path_factory.mktemp('hook_run')
    cfg = copy.deepcopy(det_cfg)
    cfg.work_dir = str(work)
    cfg.experiment_name = _unique('hook')
    cfg.load_from = str(det_ckpt)
    cfg.custom_hooks = [
        dict(type='DeOcclusionHook', pcnet_m=str(pcnet_ckpt),
             score_thr=0.0, max_instances=MAX_INSTANCES)
    ]
    dump = work / 'deocc.pkl'
    cfg.test_evaluator = [
        dict(type='AmodalMaskMetric', match='iou', iou_thr=0.1,
             prefix='amodal'),
        dict(type='OcclusionOrderMetric', match='iou', iou_thr=0.1,
             prefix='order'),
        dict(type='DumpDeOcclusionResults', out_file_path=str(dump)),
    ]
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    with open(dump, 'rb') as f:
        records = pickle.load(f)
    return dict(runner=runner, metrics=metrics, records=records)


def _decode(rles, shape):
    if not rles:
        return np.zeros((0, ) + tuple(shape), bool)
    return np.stack([decode_rle(r).astype(bool) for r in rles])


def test_hook_adds_fields_seen_by_metrics_and_dump(hook_run, pcnet_ckpt):
    records, metrics = hook_run['records'], hook_run['metrics']
    assert len(records) == 3
    # The metrics consumed the new fields (they raise when they are
    # missing) and scored every ground-truth object.
    assert metrics['amodal/num_objects'] >= 9
    assert 0.0 <= metrics['amodal/miou'] <= 100.0
    assert metrics['order/num_pairs'] >= 9
    assert not math.isnan(metrics['order/acc_all'])

    core = DeOccluder(load_pcnet_m(str(pcnet_ckpt)),
                      gap_tolerance=PREDICTED_MASKS_GAP_TOLERANCE,
                      amodal_union_visible=USER_AMODAL_UNION_VISIBLE)
    changed = 0
    for rec in records:
        pred = rec['pred_instances']
        shape = rec['ori_shape']
        modal = _decode(pred['masks'], shape)
        amodal = _decode(pred['amodal_masks'], shape)
        order = rec['pred_occlusion_order']
        num = len(modal)
        assert num == 5 and amodal.shape == modal.shape
        assert order.shape == (num, num) and order.dtype == np.int8
        # The best MAX_INSTANCES scores are de-occluded; the others are
        # untouched: amodal = modal, no relation.
        keep = np.sort(np.argsort(-pred['scores'], kind='stable')
                       [:MAX_INSTANCES])
        flags = np.zeros(num, bool)
        flags[keep] = True
        assert np.array_equal(pred['deoccluded'], flags)
        assert np.array_equal(amodal[~flags], modal[~flags])
        assert not order[~flags].any() and not order[:, ~flags].any()
        # The de-occluded ones are exactly what the core gives for them.
        expected = core(torch.from_numpy(modal[keep]))
        assert np.array_equal(order[np.ix_(keep, keep)],
                              expected.order.numpy())
        assert np.array_equal(amodal[keep], expected.amodal_masks.numpy())
        changed += int(order.any()) + int((amodal != modal).any())
    assert changed > 0, 'de-occlusion changed nothing: test is vacuous'


def test_hook_restores_test_step(hook_run):
    runner = hook_run['runner']
    assert 'test_step' not in vars(runner.model)
    assert 'val_step' not in vars(runner.model)
    hooks = [h for h in runner.hooks if isinstance(h, DeOcclusionHook)]
    assert len(hooks) == 1 and not hooks[0]._patched


def test_wrapper_matches_hook(hook_run, det_cfg, det_ckpt, pcnet_ckpt,
                              scenes):
    from mmdet.apis import inference_detector, init_detector
    cfg = wrap_detector_config(
        det_cfg, pcnet_m=str(pcnet_ckpt), score_thr=0.0,
        max_instances=MAX_INSTANCES)
    assert cfg.model.type == 'DeOcclusionDetector'
    assert 'backbone' in cfg.model  # the flat form init_detector needs
    model = init_detector(cfg, str(det_ckpt), device='cpu')
    assert isinstance(model, DeOcclusionDetector)
    for rec in hook_run['records']:
        sample = inference_detector(model, rec['img_path'])
        pred = sample.pred_instances
        shape = rec['ori_shape']
        assert isinstance(pred.amodal_masks, torch.Tensor)
        assert pred.amodal_masks.dtype == torch.bool
        assert np.array_equal(pred.masks.numpy(),
                              _decode(rec['pred_instances']['masks'], shape))
        assert np.array_equal(
            pred.amodal_masks.numpy(),
            _decode(rec['pred_instances']['amodal_masks'], shape))
        assert np.array_equal(sample.pred_occlusion_order.numpy(),
                              rec['pred_occlusion_order'])


def test_det_inferencer_returns_fields(det_cfg, det_ckpt, pcnet_ckpt,
                                       hook_run):
    from mmdet.apis import DetInferencer
    cfg = wrap_detector_config(
        det_cfg, pcnet_m=str(pcnet_ckpt), score_thr=0.0,
        max_instances=MAX_INSTANCES)
    inferencer = DetInferencer(
        model=cfg, weights=str(det_ckpt), device='cpu', palette='random',
        show_progress=False)
    rec = hook_run['records'][0]
    out = inferencer(rec['img_path'], return_datasamples=True,
                     no_save_vis=True, no_save_pred=True)
    sample = out['predictions'][0]
    assert np.array_equal(sample.pred_occlusion_order.numpy(),
                          rec['pred_occlusion_order'])
    assert np.array_equal(
        sample.pred_instances.amodal_masks.numpy(),
        _decode(rec['pred_instances']['amodal_masks'], rec['ori_shape']))


def test_wrapper_state_dict_and_training_mode(det_cfg, det_ckpt,
                                              pcnet_ckpt):
    from mmdet.registry import MODELS
    model_cfg = copy.deepcopy(det_cfg.model).to_dict()
    wrapper = MODELS.build(
        dict(type='DeOcclusionDetector', detector=model_cfg,
             pcnet_m=str(pcnet_ckpt)))
    pcnet_before = {k: v.clone() for k, v in
                    wrapper.pcnet_m.state_dict().items()}
    # A plain detector checkpoint loads under `detector.` and leaves the
    # PCNet-M weights alone; nothing is missing or unexpected.
    state = torch.load(str(det_ckpt), weights_only=True)['state_dict']
    result = wrapper.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in state.items():
        assert torch.equal(wrapper.detector.state_dict()[key], value)
    for key, value in wrapper.pcnet_m.state_dict().items():
        assert torch.equal(value, pcnet_before[key])
    # The wrapper's own state dict round-trips.
    own = wrapper.state_dict()
    assert any(k.startswith('pcnet_m.') for k in own)
    assert wrapper.load_state_dict(own, strict=True).missing_keys == []
    # Training mode reaches the detector only; init_weights spares PCNet-M.
    wrapper.train()
    assert wrapper.detector.training and not wrapper.pcnet_m.training
    wrapper.init_weights()
    for key, value in wrapper.pcnet_m.state_dict().items():
        assert torch.equal(value, pcnet_before[key])
    assert not any(p.requires_grad for p in wrapper.pcnet_m.parameters())


def test_box_only_detector_is_rejected_at_build(pcnet_ckpt):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    box_cfg = box_only_detector_config().model.to_dict()
    with pytest.raises(DetectorWithoutMasksError,
                       match='FasterRCNN does not predict instance masks'):
        MODELS.build(dict(type='DeOcclusionDetector', detector=box_cfg,
                          pcnet_m=str(pcnet_ckpt)))

    class FakeRunner:
        model = MODELS.build(box_only_detector_config().model)

    hook = DeOcclusionHook(pcnet_m=str(pcnet_ckpt))
    with pytest.raises(DetectorWithoutMasksError, match='DeOcclusionHook'):
        hook.before_test(FakeRunner())
    assert 'test_step' not in vars(FakeRunner.model)


def test_hook_rejects_bad_options(pcnet_ckpt):
    with pytest.raises(DetDeOcclusionConfigError, match='unknown'):
        DeOcclusionHook(pcnet_m=str(pcnet_ckpt),
                        deoccluder=dict(amodal_threshold=0.3))
    with pytest.raises(DetDeOcclusionConfigError, match='once'):
        DeOcclusionHook(pcnet_m='a.pth', checkpoint='b.pth')
    with pytest.raises(DetDeOcclusionConfigError, match='conflicts'):
        DeOcclusionHook(pcnet_m='a.pth', gap_tolerance=2,
                        deoccluder=dict(gap_tolerance=3))


def test_hook_patches_val_step_and_label_map(det_cfg, det_ckpt, pcnet_ckpt):
    """before_val/after_val wrap and restore val_step; outputs produced by
    the wrapped step already carry the fields; 'dataset' maps labels to the
    dataset's category ids."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    detector = MODELS.build(copy.deepcopy(det_cfg.model))

    class Dataset:
        cat_ids = list(range(1, 11))

    class Loader:
        dataset = Dataset()

    class FakeRunner:
        model = detector
        val_dataloader = Loader()

    runner = FakeRunner()
    hook = DeOcclusionHook(pcnet_m=str(pcnet_ckpt), score_thr=0.0,
                           label_to_category='dataset')
    original = type(detector).val_step
    hook.before_val(runner)
    assert 'val_step' in vars(detector)
    hook.before_val(runner)  # idempotent
    assert len(hook._patched) == 1
    assert hook.sample_deoccluder(runner, 'val').label_to_category == {
        k: k + 1 for k in range(10)}
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(
        img_shape=(96, 96), ori_shape=(96, 96), scale_factor=(1.0, 1.0)))
    image = torch.randint(0, 255, (3, 96, 96), dtype=torch.uint8)
    detector.eval()
    out = detector.val_step(dict(inputs=[image], data_samples=[sample]))
    assert 'amodal_masks' in out[0].pred_instances
    assert out[0].pred_occlusion_order.shape == (len(
        out[0].pred_instances), ) * 2
    hook.after_val(runner)
    assert 'val_step' not in vars(detector)
    assert type(detector).val_step is original


# ----------------------------------------------------------------------
# Content completion (PCNet-C) through the hook and the wrapper
# ----------------------------------------------------------------------
def _check_layers(layers, modal, amodal, keep, image):
    """Layers of the de-occluded instances; only completed pixels differ
    from the image."""
    assert np.array_equal(layers.instance_indices, keep)
    assert np.array_equal(layers.modal_masks, modal[keep])
    assert np.array_equal(layers.amodal_masks, amodal[keep])
    for k in range(layers.num_objects):
        changed = (layers.rgb[k] != image).any(-1)
        assert not (changed & ~layers.fill_masks[k]).any()
    assert not (layers.background != image)[~layers.background_hole].any()


def test_hook_with_pcnet_c_dumps_content_layers(det_cfg, det_ckpt,
                                                pcnet_ckpt, pcnet_c_ckpt,
                                                tmp_path):
    import mmcv

    from mmdeocc.structures import ContentLayers
    cfg = copy.deepcopy(det_cfg)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = _unique('hook_content')
    cfg.load_from = str(det_ckpt)
    cfg.custom_hooks = [
        dict(type='DeOcclusionHook', pcnet_m=str(pcnet_ckpt),
             pcnet_c=str(pcnet_c_ckpt), content=dict(batch_size=2),
             score_thr=0.0, max_instances=MAX_INSTANCES)
    ]
    dump = tmp_path / 'deocc.pkl'
    cfg.test_evaluator = [
        dict(type='DumpDeOcclusionResults', out_file_path=str(dump))
    ]
    Runner.from_cfg(cfg).test()
    with open(dump, 'rb') as f:
        records = pickle.load(f)
    assert len(records) == 3
    filled = 0
    for rec in records:
        image = mmcv.imread(rec['img_path'], channel_order='rgb')
        layers = ContentLayers.from_dict(image, rec['content_layers'])
        pred = rec['pred_instances']
        modal = _decode(pred['masks'], rec['ori_shape'])
        amodal = _decode(pred['amodal_masks'], rec['ori_shape'])
        keep = np.flatnonzero(pred['deoccluded'])
        assert len(keep) == MAX_INSTANCES
        _check_layers(layers, modal, amodal, keep, image)
        filled += int(layers.fill_masks.sum())
    assert filled > 0, 'nothing completed: the test is vacuous'


def test_wrapper_content_from_file_and_from_array(det_cfg, det_ckpt,
                                                  pcnet_ckpt, pcnet_c_ckpt,
                                                  hook_run):
    import mmcv
    from mmdet.apis import inference_detector, init_detector
    cfg = wrap_detector_config(
        det_cfg, pcnet_m=str(pcnet_ckpt), pcnet_c=str(pcnet_c_ckpt),
        score_thr=0.0, max_instances=MAX_INSTANCES)
    model = init_detector(cfg, str(det_ckpt), device='cpu')
    assert any(k.startswith('pcnet_c.generator.') for k in model.state_dict())
    path = hook_run['records'][0]['img_path']
    image = mmcv.imread(path, channel_order='rgb')
    from_file = inference_detector(model, path)
    pred = from_file.pred_instances
    keep = np.flatnonzero(pred.deoccluded.numpy())
    _check_layers(from_file.content_layers, pred.masks.numpy(),
                  pred.amodal_masks.numpy(), keep, image)
    # An array input has no file: the image is rebuilt from the batch
    # (un-normalised, resized back), close to the original.
    from_array = inference_detector(model, image[..., ::-1].copy())
    rebuilt = from_array.content_layers.image.astype(np.int16)
    assert rebuilt.shape == image.shape
    assert np.abs(rebuilt - image).mean() < 8.0
    assert np.array_equal(from_array.content_layers.instance_indices, keep)


def test_content_options_need_pcnet_c(pcnet_ckpt):
    with pytest.raises(DetDeOcclusionConfigError, match='PCNet-C'):
        DeOcclusionHook(pcnet_m=str(pcnet_ckpt), content=dict(batch_size=2))
    from mmdeocc.deocclusion import DetContentError
    with pytest.raises(DetContentError, match='unknown content options'):
        DeOcclusionHook(pcnet_m=str(pcnet_ckpt), pcnet_c='c.pth',
                        content=dict(bach_size=2))

# The tiny scenes Mask R-CNN wrapped in DeOcclusionDetector: predictions of
# mmdet.apis.inference_detector / DetInferencer / the test loop carry
# pred_instances.amodal_masks and pred_occlusion_order. The flat form keeps
# the detector's keys (init_detector reads cfg.model.backbone); a plain
# detector checkpoint loads into the wrapper.
#   from mmdet.apis import init_detector, inference_detector
#   model = init_detector(
#       'configs/deocclusion/'
#       'mask-rcnn_r18-w0.25_fpn_deocc-wrapper_1xb4-300it_scenes.py',
#       'checkpoints/mask-rcnn_r18_tiny_scenes.pth', device='cpu')
#   sample = inference_detector(model, 'image.png')
#   sample.pred_instances.amodal_masks, sample.pred_occlusion_order
# Old name: configs/deocclusion/mask-rcnn_r18_tiny_scenes_wrapped.py (still
# works, an alias of this file).
_base_ = ['./mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py']

model = dict(
    type='DeOcclusionDetector',
    detector_type='MaskRCNN',
    pcnet_m='checkpoints/pcnet_m_shapes.pth',
    deoccluder=dict(order_th=0.1, amodal_th=0.2, batch_size=64),
    score_thr=0.5,
    max_instances=20)
# Distinct prefixes: both metrics report num_unmatched_gt.
val_evaluator = [
    dict(type='AmodalMaskMetric', match='iou', iou_thr=0.5, prefix='amodal'),
    dict(type='OcclusionOrderMetric', match='iou', iou_thr=0.5,
         prefix='order'),
]
test_evaluator = val_evaluator

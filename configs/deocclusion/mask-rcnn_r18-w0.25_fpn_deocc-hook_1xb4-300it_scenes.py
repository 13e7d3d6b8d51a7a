# Test the tiny scenes Mask R-CNN with scene de-occlusion attached by
# DeOcclusionHook: the evaluators see pred_instances.amodal_masks and
# pred_occlusion_order and score them against the exact ground truth of the
# generated scenes (de-occluded detections matched to ground truth by mask
# IoU; make data/scenes/tiny_det_val first, see the detector config).
#   python tools/test.py \
#     configs/deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py \
#     checkpoints/mask-rcnn_r18_tiny_scenes.pth --out work_dirs/deocc.pkl \
#     --show-dir vis
# The tiny detector scores most true objects below 0.3, hence score_thr 0.1
# (50 scenes: 85 of 133 objects matched at IoU 0.5; order/acc_*_matched are
# the accuracies over the pairs it found, see configs/deocclusion/README.md).
# Old name: configs/deocclusion/mask-rcnn_r18_tiny_scenes_deocclusion.py
# (still works, an alias of this file).
_base_ = ['./mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py']

custom_hooks = [
    dict(
        type='DeOcclusionHook',
        pcnet_m='checkpoints/pcnet_m_shapes.pth',
        deoccluder=dict(order_th=0.1, amodal_th=0.2, batch_size=64),
        score_thr=0.1,
        max_instances=20)
]
# Distinct prefixes: both metrics report num_unmatched_gt.
val_evaluator = [
    dict(type='AmodalMaskMetric', match='iou', iou_thr=0.5, prefix='amodal'),
    dict(type='OcclusionOrderMetric', match='iou', iou_thr=0.5,
         prefix='order'),
]
test_evaluator = val_evaluator

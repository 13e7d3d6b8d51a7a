# MMDetection's COCO Mask R-CNN (mask-rcnn_r50_fpn_1x_coco: 8 GPUs x 2
# images, 12 epochs) with scene de-occlusion attached: the usual COCO mask
# AP plus a dump of the occlusion orders and amodal masks of the detections
# (COCO has no amodal ground truth to score them against).
#   python tools/test_detector.py \
#     configs/deocclusion/mask-rcnn_r50_fpn_deocc-hook_8xb2-1x_coco.py \
#     mask_rcnn_r50_fpn_1x_coco.pth --pcnet-m checkpoints/pcnet_m_coco128.pth
# Old name: configs/deocclusion/mask-rcnn_r50_fpn_1x_coco_deocclusion.py
# (still works, an alias of this file).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)

custom_hooks = [
    dict(
        type='DeOcclusionHook',
        pcnet_m='checkpoints/pcnet_m_coco128.pth',
        deoccluder=dict(amodal_th=0.2, batch_size=64),
        score_thr=0.5,
        max_instances=50)
]
test_evaluator = [
    dict(
        type='CocoMetric',
        ann_file='data/coco/annotations/instances_val2017.json',
        metric=['bbox', 'segm'],
        format_only=False),
    dict(
        type='DumpDeOcclusionResults',
        out_file_path='work_dirs/mask-rcnn_r50_fpn_1x_coco_deocclusion/'
        'deocclusion.pkl'),
]

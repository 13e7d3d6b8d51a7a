# CPU-sized version of the Table 4 experiment on generated occlusion scenes:
# a narrow Mask R-CNN (ResNet-18 from scratch, 64-channel FPN, 128 x 128
# images) trained for 300 iterations through mmdet's Runner on the amodal
# view of pseudo-amodal labels, evaluated by mmdet's CocoMetric on the
# ground-truth amodal view (`amodal/segm_mAP` = amodal mask AP).
#
# Data (seconds to make on a CPU):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#       --out data/scenes/amodal_seg/train --num-scenes 300 --seed 100 \
#       --image-size 128 128 --occlusion heavy --max-side 128
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#       --out data/scenes/amodal_seg/val --num-scenes 50 --seed 101 \
#       --image-size 128 128 --occlusion heavy --max-side 128
#   python tools/generate_amodal_labels.py configs/amodal/deocc-labels_shapes.py \
#       checkpoints/pcnet_m_shapes.pth --format amodal_coco \
#       --ann data/scenes/amodal_seg/train/annotations.json \
#       --out data/scenes/amodal_seg/train/labels_ours.json
#   python tools/generate_amodal_labels.py none none --method gt \
#       --format amodal_coco --ann data/scenes/amodal_seg/val/annotations.json \
#       --out data/scenes/amodal_seg/val/gt.json
# Train + evaluate (other labels: --method raw|convex|convexr|gt above and
#   --cfg-options train_dataloader.dataset.ann_file=train/labels_convexr_amodal_view.json):
#   python tools/train.py \
#       configs/amodal/mask-rcnn_r18_fpn_1xb4-300it_scenes-pseudo-amodal.py
# Old name: configs/amodal/mask-rcnn_r18_fpn_300it_shapes-pseudo-amodal_cpu.py
# (still works, an alias of this file).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

data_root = 'data/scenes/amodal_seg/'
metainfo = dict(
    classes=('apple', 'bell', 'bird', 'bottle', 'butterfly', 'camel', 'cup',
             'elephant', 'hammer', 'horseshoe'))
num_classes = 10
image_size = (128, 128)
channels = 64

model = dict(
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must learn
        init_cfg=None),  # no ImageNet weights (nothing is downloaded)
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(scales=[4])),  # 16..256 px anchors
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=256,
            num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2,
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train/labels_ours_amodal_view.json',
        data_prefix=dict(img='train/images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='val/gt_amodal_view.json',
        data_prefix=dict(img='val/images/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'val/gt_amodal_view.json',
    metric=['bbox', 'segm'],
    prefix='amodal')
test_evaluator = val_evaluator

max_iters = 300
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[200, 270],
        gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)

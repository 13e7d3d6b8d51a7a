# A tiny class-agnostic Mask R-CNN (ResNet-18 at 1/4 width, 64-channel FPN,
# ~1.5 M parameters, a 6 MB checkpoint) for the synthetic occlusion scenes
# of the in-repo silhouettes (data/shapes/mpeg7). It exists so that the
# detector -> de-occlusion pipeline (DeOcclusionHook, DeOcclusionDetector,
# tools/infer.py --det-config) can be exercised end to end on CPU with a
# detector that predicts real masks. It is not a benchmark model.
#
# One class, 'object': de-occlusion does not need the class, and telling ten
# silhouette classes apart is far beyond a few hundred CPU iterations (with
# ten classes the scores stay at chance, ~0.1, after 300 iterations).
#
# Make the scenes (128 x 128 images, one class), then train on CPU (300
# iterations took 7 min with one thread on a loaded 2-core machine):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/tiny_det_train --num-scenes 600 --seed 10 \
#     --image-size 128 128 --objects-per-scene 2 4 --single-class object
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/tiny_det_val --num-scenes 50 --seed 11 \
#     --image-size 128 128 --objects-per-scene 2 4 --single-class object
#   python tools/train.py \
#     configs/deocclusion/mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py
# checkpoints/mask-rcnn_r18_tiny_scenes.pth is this config's iter_300.pth
# (state_dict and meta only).
#
# Evaluate the detector with de-occlusion attached (DeOcclusionHook):
#   configs/deocclusion/mask-rcnn_r18-w0.25_fpn_deocc-hook_1xb4-300it_scenes.py
# Old name: configs/deocclusion/mask-rcnn_r18_tiny_scenes.py (still works,
# an alias of this file).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmdeocc'], allow_failed_imports=False)

classes = ('object', )
num_classes = len(classes)
image_size = 128
fpn_channels = 64

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=fpn_channels),
    rpn_head=dict(
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        # objects are 15-45 px: start the anchors at 16 px on stride 4
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=fpn_channels),
        bbox_head=dict(
            in_channels=fpn_channels,
            fc_out_channels=128,
            num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=fpn_channels),
        mask_head=dict(
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=dict(sampler=dict(num=128), mask_size=28)),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.05, max_per_img=20)))

dataset_type = 'AmodalCocoDataset'
train_data_root = 'data/scenes/tiny_det_train/'
val_data_root = 'data/scenes/tiny_det_val/'
metainfo = dict(classes=classes)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
# Ground truth stays at the original size; the raw instance records (with
# their amodal masks) ride along so that the de-occlusion metrics can read
# them (mmdeocc/evaluation/metrics/sample_fields.py).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'instances')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=train_data_root,
        ann_file='annotations.json',
        data_prefix=dict(img='images/'),
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=val_data_root,
        ann_file='annotations.json',
        data_prefix=dict(img='images/'),
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Detector quality (COCO box / mask AP on the modal masks); the *_deocc-hook_*
# and *_deocc-wrapper_* configs score the amodal masks and orders instead.
val_evaluator = dict(
    type='CocoMetric',
    ann_file=val_data_root + 'annotations.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75)], gamma=0.1),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1, save_optimizer=False))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)

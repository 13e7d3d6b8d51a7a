# The comparison of issue 15 (docs/results.md "Re-composition as
# augmentation"), without augmentation: the tiny class-agnostic Mask R-CNN
# of configs/deocclusion/mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py
# trained on only 150 occlusion scenes (21 epochs in 800 iterations of 4:
# the regime where augmentation matters) and evaluated (modal mask / box AP,
# mmdet's CocoMetric) on 200 held-out scenes. The two siblings differ only
# in one train_pipeline step:
#   *_visible-jitter_*: InstaBoost-style jitter of the visible masks;
#   *_recompose_*: de-occlusion re-composition (DeOcclusionRecompose).
# Data (same silhouette classes, disjoint random scenes):
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/recompose_train --num-scenes 150 --seed 13 \
#     --image-size 128 128 --objects-per-scene 2 4 --single-class object
#   python tools/make_occlusion_scenes.py --shapes data/shapes/mpeg7 \
#     --out data/scenes/recompose_val --num-scenes 200 --seed 14 \
#     --image-size 128 128 --objects-per-scene 2 4 --single-class object
# Train and test (seed 0; the study also runs --cfg-options randomness.seed=1):
#   python tools/train.py configs/recompose/<config>.py
#   python tools/test.py configs/recompose/<config>.py \
#     work_dirs/<config>/iter_800.pth
_base_ = ['../deocclusion/mask-rcnn_r18-w0.25_fpn_1xb4-300it_scenes.py']

train_data_root = 'data/scenes/recompose_train/'
val_data_root = 'data/scenes/recompose_val/'
max_iters = 800
train_dataloader = dict(dataset=dict(data_root=train_data_root))
val_dataloader = dict(dataset=dict(data_root=val_data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=val_data_root + 'annotations.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[600], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))

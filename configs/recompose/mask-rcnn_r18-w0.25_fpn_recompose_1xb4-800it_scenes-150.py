# De-occlusion re-composition as augmentation (issue 15): the config of
# mask-rcnn_r18-w0.25_fpn_1xb4-800it_scenes-150.py with DeOcclusionRecompose
# after LoadAnnotations. Half of the samples are re-composed from their
# de-occluded layers: objects moved / resized / mirrored / re-layered /
# removed, objects of other training images pasted; every visible mask, box
# and label comes from the new layering. Build the cache first (PCNet-M and
# PCNet-C trained without any of these images' labels):
#   python tools/build_recompose_cache.py \
#     configs/recompose/deocc-recompose-cache_scenes.py \
#     checkpoints/pcnet_m_shapes.pth checkpoints/pcnet_c_w025_coco128.pth \
#     --ann data/scenes/recompose_train/annotations.json \
#     --img-dir data/scenes/recompose_train/images \
#     --out-dir data/scenes/recompose_train/recompose_cache
_base_ = ['./mask-rcnn_r18-w0.25_fpn_1xb4-800it_scenes-150.py']

# The transform's defaults: per object move 0.5 (up to 1/4 of the image
# side), resize 0.3 (x0.8-1.25), mirror 0.3, new depth 0.3, removal 0.1; per
# sample paste 0.3 (up to 2 objects of another training image); changed
# instances under 20 % of their reference area or 16 px are dropped.
recompose = dict(
    type='DeOcclusionRecompose',
    cache_dir='data/scenes/recompose_train/recompose_cache',
    prob=0.5,
    classes={{_base_.classes}})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    recompose,
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# The InstaBoost-style baseline of issue 15 (ICCV 2019: jitter objects without
# knowing their hidden parts): the re-composition config with
# layers='visible' - the same move / resize / mirror edits on the *visible*
# masks only, moved objects drawn in front, holes filled by OpenCV's Telea
# inpainting; no cache, no depth changes, removals or pastes.
_base_ = ['./mask-rcnn_r18-w0.25_fpn_recompose_1xb4-400it_scenes-150.py']

recompose = dict(
    _delete_=True,
    type='DeOcclusionRecompose',
    layers='visible',
    prob=0.5,
    move_prob=0.5,
    max_shift=0.25,
    scale_prob=0.3,
    scale_range=(0.8, 1.25),
    flip_prob=0.3,
    depth_prob=0.0,
    remove_prob=0.0,
    paste_prob=0.0,
    min_visible_fraction=0.2,
    min_visible_area=16)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    recompose,
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

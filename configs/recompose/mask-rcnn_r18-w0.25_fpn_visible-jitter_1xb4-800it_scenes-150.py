# The InstaBoost-style baseline of issue 15 (ICCV 2019: jitter objects without
# knowing their hidden parts): the re-composition config with
# layers='visible' - the same move / resize / mirror edits on the *visible*
# masks only, moved objects drawn in front, holes filled by OpenCV's Telea
# inpainting; no cache, no depth changes, removals or pastes.
_base_ = ['./mask-rcnn_r18-w0.25_fpn_recompose_1xb4-800it_scenes-150.py']

# The same move / resize / mirror probabilities (the transform's defaults).
recompose = dict(
    type='DeOcclusionRecompose',
    layers='visible',
    prob=0.5,
    depth_prob=0.0,
    remove_prob=0.0,
    paste_prob=0.0)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    recompose,
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

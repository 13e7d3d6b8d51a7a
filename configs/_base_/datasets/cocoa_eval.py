# Evaluation data: COCOA (COCO amodal) validation split. Fully occluded
# regions (empty visible mask) are not recoverable from modal masks and are
# reported, not scored (see AmodalMaskMetric). Expected layout:
#   data/cocoa/annotations/COCO_amodal_val2014.json
#   data/cocoa/val2014/*.jpg   (COCO images; not read here)
data_root = 'data/cocoa/'
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOAmodalDataset',
        data_root=data_root,
        ann_file='annotations/COCO_amodal_val2014.json',
        data_prefix=dict(img='val2014/'),
        test_mode=True,
        pipeline=[]))

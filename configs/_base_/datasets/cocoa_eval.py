# Evaluation data: COCOA (COCO amodal) validation split. Fully occluded
# regions (empty visible mask) are not recoverable from modal masks and are
# reported, not scored (see AmodalMaskMetric). Expected layout:
#   data/cocoa/annotations/COCO_amodal_val2014.json
#   data/cocoa/val2014/*.jpg   (COCO images; not read here)
_base_ = ['./deocc_eval_loader.py']
data_root = 'data/cocoa/'
test_dataloader = dict(
    dataset=dict(
        type='COCOAmodalDataset',
        data_root=data_root,
        ann_file='annotations/COCO_amodal_val2014.json',
        data_prefix=dict(img='val2014/')))

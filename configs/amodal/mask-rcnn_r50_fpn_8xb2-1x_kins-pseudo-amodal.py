# Amodal instance segmentation on KINS (paper Table 4): MMDetection's Mask
# R-CNN R50-FPN 1x (8 GPUs x 2 images, 12 epochs), unchanged, trained on the
# *amodal view* of pseudo-amodal labels generated from KINS' modal masks,
# evaluated with mmdet's CocoMetric
# on the ground-truth amodal view of the test split, so `amodal/segm_mAP` is
# the amodal mask AP (published: 29.3 with GT amodal or PCNet-M labels, 22.7
# raw, 22.2 convex, 25.9 Convex^R).
#
# Labels (docs/benchmarks.md, "Pseudo-amodal label generation"):
#   python tools/generate_amodal_labels.py configs/amodal/deocc-labels_kins.py \
#       checkpoints/pcnet_m_kins.pth --format kins \
#       --ann data/kins/update_train_2020.json \
#       --out data/kins/pseudo_amodal/train_ours.json --device cuda --fast
#   python tools/generate_amodal_labels.py none none --method gt --format kins \
#       --ann data/kins/update_test_2020.json \
#       --out data/kins/pseudo_amodal/test_gt.json
# Baselines: --method raw|convex|convexr (checkpoint `none`) and
#   --cfg-options train_dataloader.dataset.ann_file=pseudo_amodal/train_convexr_amodal_view.json
# Upper bound: --method gt on the train file.
# Train:
#   bash tools/dist_train.sh \
#       configs/amodal/mask-rcnn_r50_fpn_8xb2-1x_kins-pseudo-amodal.py 8
# Old name: configs/amodal/mask-rcnn_r50_fpn_1x_kins-pseudo-amodal.py (still
# works, an alias of this file).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

data_root = 'data/kins/'
# The 7 KINS classes used by the paper, in category-id order (ids 1, 2, 4,
# 5, 6, 7, 8; id 3 is unused). CocoDataset selects categories by name.
metainfo = dict(
    classes=('cyclist', 'pedestrian', 'car', 'tram', 'truck', 'van', 'misc'))
num_classes = 7

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=num_classes),
        mask_head=dict(num_classes=num_classes)))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='pseudo_amodal/train_ours_amodal_view.json',
        data_prefix=dict(img='training/image_2/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='pseudo_amodal/test_gt_amodal_view.json',
        data_prefix=dict(img='testing/image_2/')))
test_dataloader = val_dataloader

val_evaluator = dict(
    ann_file=data_root + 'pseudo_amodal/test_gt_amodal_view.json',
    metric=['bbox', 'segm'],
    prefix='amodal')
test_evaluator = val_evaluator

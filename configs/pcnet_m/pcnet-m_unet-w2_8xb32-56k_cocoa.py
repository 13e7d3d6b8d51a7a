# PCNet-M on COCOA, the reference recipe: 56k updates of 256 samples (32 per
# process x 8 processes; tools/train.py accumulates gradients to 256 on 1, 2,
# 4 or 8 processes), SGD 1e-3 x0.1 at 32k and 48k updates, in-eraser loss
# weight 6 as the reference code computes, the reference's eraser sampling.
# COCOA uses a constant category (channel 0 = erased modal mask).
# Old name: configs/pcnet_m_cocoa.py (still works, an alias of this file).
_base_ = [
    '../_base_/models/pcnet_m_unet2_reference.py',
    '../_base_/datasets/pcnet_m_instances_reference.py',
    '../_base_/schedules/pcnet_m_cocoa_56k.py',
    '../_base_/default_runtime.py',
]
model = dict(use_category=False)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/cocoa/annotations/COCO_amodal_train2014.json',
        data_format='cocoa'))

# PCNet-M on KINS, the reference recipe: 32k updates of 256 samples (32 per
# process x 8 processes; tools/train.py accumulates gradients to 256 on 1, 2,
# 4 or 8 processes), SGD 1e-3 constant, in-eraser loss weight 6 as the
# reference code computes, the reference's eraser sampling; the paper's run:
#   bash tools/dist_train.sh \
#       configs/pcnet_m/pcnet-m_unet-w2_8xb32-32k_kins.py 8
# Channel 0 is the erased modal mask times the raw KINS category_id (1..8),
# as the released KINS weights expect; crops come from the file's
# inmodal_bbox / i_bbox, as in the reference.
# Old name: configs/pcnet_m_kins.py (still works, an alias of this file).
_base_ = [
    '../_base_/models/pcnet_m_unet2_reference.py',
    '../_base_/datasets/pcnet_m_instances_reference.py',
    '../_base_/schedules/pcnet_m_kins_32k.py',
    '../_base_/default_runtime.py',
]
model = dict(use_category=True)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/kins/instances_train.json',  # or update_train_2020.json
        data_format='kins'))

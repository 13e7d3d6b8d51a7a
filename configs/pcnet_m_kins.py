# PCNet-M on KINS with the reference schedule (32k iterations, SGD 1e-3
# constant, batch 32 per GPU; the reference ran 8 GPUs = effective 256:
# `bash tools/dist_train.sh configs/pcnet_m_kins.py 8`).
# Channel 0 is the erased modal mask times the raw KINS category_id (1..8),
# as the released KINS weights expect.
_base_ = [
    '_base_/models/pcnet_m_unet2.py',
    '_base_/datasets/pcnet_m_instances.py',
    '_base_/schedules/pcnet_m_kins_32k.py',
    '_base_/default_runtime.py',
]
model = dict(use_category=True)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/kins/instances_train.json',  # or update_train_2020.json
        data_format='kins'))

# PCNet-M on COCOA with the reference schedule (56k iterations, SGD 1e-3,
# x0.1 at 32k and 48k, batch 32 per GPU; reference: 8 GPUs = 256).
# COCOA uses a constant category (channel 0 = erased modal mask).
_base_ = [
    '_base_/models/pcnet_m_unet2.py',
    '_base_/datasets/pcnet_m_instances.py',
    '_base_/schedules/pcnet_m_cocoa_56k.py',
    '_base_/default_runtime.py',
]
model = dict(use_category=False)
train_dataloader = dict(
    dataset=dict(
        ann_file='data/cocoa/annotations/COCO_amodal_train2014.json',
        data_format='cocoa'))

# PCNet-M trained self-supervised on the real modal masks of COCO128
# (data/coco128, 929 instances, 80 classes) in CPU-friendly time; the recipe
# of checkpoints/pcnet_m_coco128.pth.
# Differences from the reference recipe, all for CPU time: width 0.5 (about
# 16x cheaper than the reference width 2; 210,738 parameters), 128x128 crops
# (4x cheaper than 256), batch 16, Adam (lr 1e-3, cosine decay) instead of
# SGD 1e-3 constant, which needs the reference's effective batch of 256.
# Everything else (crop rule, surrogate occlusion, loss) is the reference's.
# About 0.3-0.7 s/iteration on 2 idle CPU cores: 2000 iterations in 10-25 min.
# Only the annotations are read (in the repository); PCNet-M reads no photos.
# Old name: configs/pcnet_m_coco128_cpu.py (still works, an alias of this
# file).
_base_ = [
    '../_base_/models/pcnet_m_unet2.py',
    '../_base_/datasets/pcnet_m_instances.py',
    '../_base_/default_runtime.py',
]
crop_size = 128
max_iters = 2000
model = dict(width=0.5, in_size=crop_size, use_category=False)
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    dataset=dict(
        ann_file='data/coco128/annotations/instances_train2017.json',
        data_format='coco',
        seed=0,
        pipeline=[
            dict(type='SurrogateOcclusion', size=crop_size,
                 on_failure='resample'),
            dict(type='PackPCNetInputs')
        ]))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=0)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3,
                                        weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         T_max=max_iters, eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))

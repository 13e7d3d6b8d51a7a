# PCNet-C trained on the real photos and modal masks of COCO128 in
# CPU-friendly time (the recipe of METHOD 3 at a small scale).
#
# Data: the annotations are in the repository
# (data/coco128/annotations/instances_train2017.json); the 128 photos are
# not. Put them in data/coco128/train2017 (the default below): they are the
# train2017/*.jpg files of github.com/developer0hye/COCO128 (commit 47a3de3,
# the same snapshot as the annotations; ~22 MB; see data/coco128/SOURCE.txt),
# i.e. the first 128 photos of COCO train2017. Elsewhere, point to them:
#   python tools/train.py configs/pcnet_c/pcnet-c_pconv-unet_1xb4-2k_coco128.py \
#       --cfg-options \
#       train_dataloader.dataset.data_prefix.img=/path/to/coco128/train2017
# (the tests use the 4 photos in demo/images with demo/annotations.json:
#  ann_file=demo/annotations.json data_prefix.img=demo/images).
#
# Differences from the reference recipe, all for CPU time: 128x128 crops (the
# smallest size of the 7-level generator; 4x cheaper than 256), batch 4,
# random initialisation with window_rescale=True (the reference starts from
# an inpainting model with window_rescale=False), generator lr 1e-3 (from
# scratch it reached a lower held-out hole L1 in 40 steps than lr 2e-4 in 90;
# docs/benchmarks.md), and no perceptual/style losses (their VGG16 ImageNet
# weights are not available offline and the VGG passes would double the step
# time; enable them with model.inpainting_loss.perceptual_weight=0.1
# model.inpainting_loss.style_weight=250 model.inpainting_loss.vgg.weights=
# PATH). Everything else (crop rule, surrogate occlusion in case 1, hole =
# eraser ∩ target, valid/hole/tv/GAN losses, discriminator optimiser) is the
# reference's.
# About 2-2.6 s per iteration with one thread on a busy 2-core CPU
# (docs/benchmarks.md, section PCNet-C).
# Old name: configs/pcnet_c_coco128_cpu.py (still works, an alias of this
# file).
_base_ = [
    '../_base_/models/pcnet_c.py',
    '../_base_/datasets/pcnet_m_instances.py',
    '../_base_/schedules/pcnet_c_450k.py',
    '../_base_/default_runtime.py',
]
crop_size = 128
max_iters = 2000
model = dict(
    generator=dict(window_rescale=True),
    inpainting_loss=dict(
        perceptual_weight=0.0, style_weight=0.0,
        vgg=dict(type='VGG16Features', weights=None)),
    use_category=False,
    in_size=crop_size)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        ann_file='data/coco128/annotations/instances_train2017.json',
        data_format='coco',
        data_prefix=dict(img='data/coco128/train2017'),
        seed=0,
        pipeline=[
            dict(
                type='SurrogateOcclusion',
                size=crop_size,
                eraser_front_prob=1.0,  # PCNet-C: always case 1
                on_failure='resample'),
            dict(type='LoadPCNetCImageCrop', interpolation='bicubic'),
            dict(type='PackPCNetCInputs'),
        ]))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=0)
optim_wrapper = dict(
    generator=dict(optimizer=dict(type='Adam', lr=1e-3)))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
load_from = None

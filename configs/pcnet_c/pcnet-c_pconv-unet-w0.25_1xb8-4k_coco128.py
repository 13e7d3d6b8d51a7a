# A small PCNet-C (generator and discriminator at a quarter of the reference
# width: ~1.6 M + 0.17 M parameters instead of 25.8 M + 2.8 M) trained on the
# real photos and modal masks of COCO128 with the recipe of
# configs/pcnet_c/pcnet-c_pconv-unet_1xb4-2k_coco128.py. It is what
# `checkpoints/pcnet_c_w025_coco128.pth` (the content-completion demo, a few
# MB) is trained with:
#   OMP_NUM_THREADS=1 python tools/train.py \
#       configs/pcnet_c/pcnet-c_pconv-unet-w0.25_1xb8-4k_coco128.py
# The photos are read from data/coco128/train2017 by default (the COCO128
# photos of github.com/developer0hye/COCO128, see data/coco128/SOURCE.txt);
# point elsewhere with --cfg-options
# train_dataloader.dataset.data_prefix.img=/path/to/coco128/train2017.
# Timing in docs/results.md.
# Old name: configs/pcnet_c_w025_coco128_cpu.py (still works, an alias of
# this file).
_base_ = ['./pcnet-c_pconv-unet_1xb4-2k_coco128.py']
model = dict(
    generator=dict(width=0.25),
    discriminator=dict(width=0.25))
# Twice the batch and iterations of the base (a step costs ~0.3 s at batch 4
# on one CPU thread at this width instead of 2-2.6 s at full width).
max_iters = 4000
train_dataloader = dict(batch_size=8)
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=2))

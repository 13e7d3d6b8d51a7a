# Scaling study (issue 13), samples axis: the 128k-sample shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py: width 0.5, 128-px
# crops, batch 16, Adam 1e-3 with cosine decay to 1e-5) run 2x longer:
# 16,000 iterations = 256k samples. With `tools/train.py <this config>
# --amp` on a CPU with native bf16: about 0.17 s/iteration on 2 AVX512-BF16
# cores (45 min). Checkpoints every 2,000 iterations; resume with
# `--resume`.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py']
max_iters = 16000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         T_max=max_iters, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=-1))

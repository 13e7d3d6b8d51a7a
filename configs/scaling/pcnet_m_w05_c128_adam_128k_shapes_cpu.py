# Scaling study (issue 13): the committed shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py: width 0.5, 128-px
# crops, batch 16, Adam, cosine) run 4x longer: 8,000 iterations of 16 =
# 128k samples. A checkpoint every 500 iterations (8k samples) is kept for
# the accuracy-vs-samples curve.
# Longer than one working session: resume with
#   python tools/train.py configs/scaling/pcnet_m_w05_c128_adam_128k_shapes_cpu.py --resume
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
max_iters = 8000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         T_max=max_iters, eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=-1))

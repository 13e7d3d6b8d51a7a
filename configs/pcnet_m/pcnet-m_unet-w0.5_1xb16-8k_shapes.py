# PCNet-M on the generated occlusion scenes of 40 MPEG-7 classes (modal masks
# only), the CPU shapes recipe (pcnet-m_unet-w0.5_1xb16-2k_shapes.py: width
# 0.5, 128-px crops, batch 16, Adam, cosine) run 4x longer: 8,000 iterations
# of 16 = 128k samples, 1.07 h on one loaded CPU core. A checkpoint every 500
# iterations (8k samples) is kept for the accuracy-vs-samples curve
# (tools/benchmarks/bench_scaling.py; docs/results.md "Scaling").
# Committed as checkpoints/pcnet_m_shapes_128k.pth. Longer than one working
# session: resume with `python tools/train.py <this config> --resume`.
_base_ = ['./pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
max_iters = 8000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters,
         T_max=max_iters, eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=-1))

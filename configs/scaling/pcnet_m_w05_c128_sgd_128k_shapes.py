# Scaling study (issue 13), optimiser axis at 128k samples: the SGD recipe of
# pcnet_m_w05_c128_sgd_32k_shapes.py (the reference's lr 1e-3 constant,
# momentum 0.9, weight decay 1e-4) run 4x longer: 8,000 iterations of 16.
# The learning rate is constant, so this run continues the 32k run exactly:
#   mkdir -p work_dirs/scaling_sgd_128k
#   cp work_dirs/scaling_sgd_32k/iter_2000.pth work_dirs/scaling_sgd_128k/
#   python tools/train.py configs/scaling/pcnet_m_w05_c128_sgd_128k_shapes.py \
#     --work-dir work_dirs/scaling_sgd_128k \
#     --resume work_dirs/scaling_sgd_128k/iter_2000.pth
# A checkpoint every 500 iterations feeds the accuracy-vs-samples curve
# (tools/benchmarks/bench_scaling.py).
_base_ = ['./pcnet_m_w05_c128_sgd_32k_shapes.py']
train_cfg = dict(max_iters=8000)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=-1))

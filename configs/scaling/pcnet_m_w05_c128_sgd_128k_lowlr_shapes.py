# Scaling study (issue 13): the SGD 128k run (pcnet_m_w05_c128_sgd_128k_
# shapes.py, constant lr 1e-3) plus a low-learning-rate phase. With updates
# of 16 samples (the reference uses 256) the constant-lr checkpoints swing
# by up to 10 ordering points from one 8k-sample checkpoint to the next; 1,000
# more iterations at lr 1e-4 (16k samples) settle the weights. Starts from
# the 128k run's last checkpoint (weights only; fresh momentum):
#   python tools/train.py configs/scaling/pcnet_m_w05_c128_sgd_128k_lowlr_shapes.py \
#     --work-dir work_dirs/scaling_sgd_128k_lowlr
_base_ = ['./pcnet_m_w05_c128_sgd_32k_shapes.py']
load_from = 'work_dirs/scaling_sgd_128k/iter_8000.pth'
train_cfg = dict(max_iters=1000)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, max_keep_ckpts=-1))

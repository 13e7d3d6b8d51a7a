# Scaling study (issue 13), width axis: the CPU shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py: 128-px crops,
# batch 16, Adam 1e-3 with cosine decay, 2,000 iterations = 32k samples) at
# the reference's UNet width 2 (about 16x the compute of width 0.5). On a
# CPU with native bf16 train it with `tools/train.py <this config> --amp`
# (bf16 autocast + channels-last, 0.7 s/iteration on 2 AVX512-BF16 cores);
# a checkpoint every 250 iterations, resume with `--resume`. Evaluate with
# tools/benchmarks/bench_scaling.py or
# tools/analysis_tools/eval_deocclusion.py.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
model = dict(width=2.0)
default_hooks = dict(
    checkpoint=dict(interval=250, max_keep_ckpts=-1))

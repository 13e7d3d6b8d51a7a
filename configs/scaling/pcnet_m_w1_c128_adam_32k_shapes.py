# Scaling study (issue 13), width axis: the CPU shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py: 128-px crops,
# batch 16, Adam 1e-3 with cosine decay, 2,000 iterations = 32k samples) at
# UNet width 1 (about 4x the compute of width 0.5). Evaluate with
# tools/benchmarks/bench_scaling.py or tools/analysis_tools/eval_deocclusion.py.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
model = dict(width=1.0)

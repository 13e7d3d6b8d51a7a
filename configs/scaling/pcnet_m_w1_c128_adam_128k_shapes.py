# Scaling study (issue 13), width x samples: the 128k-sample shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py: 128-px crops,
# batch 16, Adam 1e-3 with cosine decay to 1e-5 over 8,000 iterations) at
# UNet width 1. Asks whether the flattening of width 0.5 between 128k and
# 256k samples is a capacity limit. With `tools/train.py <this config>
# --amp` on 2 AVX512-BF16 cores about 0.3 s/iteration (~40 min);
# checkpoints every 2,000 iterations; continue with `--resume`.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py']
model = dict(width=1.0)

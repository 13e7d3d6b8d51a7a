# Old name of configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py (the
# scaling study's 128k-sample run); kept as an alias.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-8k_shapes.py']

# Old name of configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']

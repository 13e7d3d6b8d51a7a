# Old name of configs/pcnet_m/pcnet-m_unet-w2_8xb32-56k_cocoa.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./pcnet_m/pcnet-m_unet-w2_8xb32-56k_cocoa.py']

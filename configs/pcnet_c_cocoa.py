# Old name of configs/pcnet_c/pcnet-c_pconv-unet_8xb16-450k_cocoa.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./pcnet_c/pcnet-c_pconv-unet_8xb16-450k_cocoa.py']

# Old name of configs/pcnet_c/pcnet-c_pconv-unet-w0.25_1xb8-4k_coco128.py,
# kept so that existing commands and scripts keep working; the
# config itself lives there.
_base_ = ['./pcnet_c/pcnet-c_pconv-unet-w0.25_1xb8-4k_coco128.py']

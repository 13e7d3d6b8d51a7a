# Scaling study (issue 13), optimiser axis: the CPU shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py: width 0.5, 128-px
# crops, batch 16, 2,000 iterations = 32k samples) with the reference's
# optimiser instead of Adam + cosine: SGD lr 1e-3 constant, momentum 0.9,
# weight decay 1e-4 (configs/_base_/schedules/pcnet_m_kins_32k.py), which
# the reference pairs with updates of 256 samples, not 16.
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]

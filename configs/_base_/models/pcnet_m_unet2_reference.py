# PCNet-M as the reference code trains it (on any PyTorch >= 1.2, as the
# released models were): in-eraser loss weight 6. The reference's
# mask-weighted cross-entropy adds 5 x the in-eraser loss to a loss over
# *all* pixels (its out-of-eraser selection `~mask` of a uint8 mask is never
# 0), so in-eraser pixels weigh 1 + 5. The paper's stated weight is
# `--cfg-options model.inmask_weight=5.0`.
_base_ = ['./pcnet_m_unet2.py']
model = dict(inmask_weight=6.0)

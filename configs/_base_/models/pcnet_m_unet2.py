# PCNet-M: the reference mask-only UNet (width 2, 3,352,002 parameters),
# 2-channel input (erased modal mask, eraser), 256x256 crops, weighted CE
# with weight 5 inside the eraser (METHOD 1.5; the reference code's
# effective weight is 6 = 1 + 5, set inmask_weight=6.0 for that parity).
model = dict(
    type='PCNetM',
    width=2,
    in_size=256,
    use_category=False,
    category_map=None,
    inmask_weight=5.0)

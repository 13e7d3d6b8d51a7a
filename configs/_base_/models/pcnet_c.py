# PCNet-C (METHOD 3): 7-level partial-convolution UNet generator (4 input
# channels: RGB * visible, modal * category; ~25.8 M parameters), spectral-
# norm patch discriminator, inpainting losses (valid 1, hole 6, perceptual
# 0.1, style 250, total variation 0.1) and a non-saturating GAN loss
# (generator weight 0.1).
#
# The perceptual and style losses need ImageNet VGG16 weights, which cannot
# be downloaded at run time: put torchvision's `vgg16-397923af.pth` (state
# dict with `features.N.weight/bias`) at the path below or override
# `model.inpainting_loss.vgg.weights`.
#
# `window_rescale=False` is the reference partial convolution, required by
# the reference weights and by the inpainting initialisation (`load_from`
# of a checkpoint made by tools/expand_inpainting_ckpt.py). From a random
# initialisation set it True (the reference normalisation barely trains).
model = dict(
    type='PCNetC',
    generator=dict(
        type='PCNetCGenerator',
        in_channels=4,
        out_channels=3,
        window_rescale=False),
    discriminator=dict(type='PCNetCDiscriminator', in_channels=4),
    inpainting_loss=dict(
        type='PCNetCInpaintingLoss',
        valid_weight=1.0,
        hole_weight=6.0,
        perceptual_weight=0.1,
        style_weight=250.0,
        tv_weight=0.1,
        vgg=dict(
            type='VGG16Features',
            weights='checkpoints/vgg16-397923af.pth')),
    adversarial_loss=dict(type='PCNetCAdversarialLoss', generator_weight=0.1),
    use_category=False,
    category_map=None)

# Two optimisers (generator, discriminator) in one train_step: multi-GPU
# training wraps each sub-network in its own DDP (mmengine's plain DDP
# wrapper would bypass PCNetC.train_step). Checked with a 1-process gloo
# group on CPU.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)

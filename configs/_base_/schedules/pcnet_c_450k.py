# PCNet-C schedule of the reference (METHOD 3.4): 450k iterations; generator
# Adam lr 1e-4; discriminator Adam lr 1e-5, betas (0, 0.9); constant rates.
# The reference batch is 16 per GPU x 8 GPUs = 128
# (`bash tools/dist_train.sh CONFIG 8` with a configs/pcnet_c/*_8xb16-* config).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=450000, val_interval=0)
optim_wrapper = dict(
    constructor='PCNetCOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-5, betas=(0.0, 0.9))))
auto_scale_lr = dict(enable=False, base_batch_size=128)

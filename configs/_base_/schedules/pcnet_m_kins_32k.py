# KINS schedule of the reference (METHOD 1.6): 32k iterations, SGD lr 1e-3
# constant, momentum 0.9, weight decay 1e-4, no warm-up.
# The reference's effective batch is 256 = 32 per GPU x 8 GPUs: configs that
# set `effective_batch_size = 256` get it on any number of processes through
# gradient accumulation (tools/train.py); the counts here are updates.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=32000, val_interval=0)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
auto_scale_lr = dict(enable=False, base_batch_size=256)
# Updates of 256 samples on any number of processes (None: 32 x processes).
effective_batch_size = 256

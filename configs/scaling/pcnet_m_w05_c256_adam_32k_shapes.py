# Scaling study (issue 13), crop-size axis: the CPU shapes recipe
# (configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py: width 0.5, batch
# 16, Adam 1e-3 with cosine decay, 2,000 iterations = 32k samples) at the
# reference's 256-px crops (about 4x the compute of 128-px crops; a few CPU
# hours, so it spans working sessions: checkpoints every 250 iterations,
# resume with `python tools/train.py <this config> --resume`). Evaluate
# with tools/benchmarks/bench_scaling.py (the model's in_size is read from
# the checkpoint, so it is evaluated on 256-px crops).
_base_ = ['../pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_shapes.py']
crop_size = 256
model = dict(in_size=crop_size)
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='SurrogateOcclusion', size=crop_size,
             on_failure='resample'),
        dict(type='PackPCNetInputs')
    ]))
default_hooks = dict(
    checkpoint=dict(interval=250, max_keep_ckpts=-1))

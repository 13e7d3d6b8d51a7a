# Test loader shared by the de-occlusion evaluation datasets: one image per
# step, in file order, no pipeline (readers give masks; PCNet-M reads no
# images). Dataset bases inherit it and set the dataset's type and paths.
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, pipeline=[]))

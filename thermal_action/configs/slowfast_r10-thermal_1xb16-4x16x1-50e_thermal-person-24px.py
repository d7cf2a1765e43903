# Person-centred thermal-native SlowFast: one sample per annotated person, a 24x24 pixel
# window of the 40x60 frames around the person's keyframe box (the person's whole body
# and its surroundings at full sensor resolution), labelled with that person's class.
# Cheaper per clip than the whole frame (see benchmarks/model_cost.py), and no clip-label
# rule is needed when people in a keyframe do different things.
_base_ = ['./slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60.py']

# ResNet-10 pathways (one basic block per stage instead of ResNet-18's two), and a slow
# res5 with 1x3x3 kernels: a 24x24 window reaches res4 at 2x2 pixels, where the second
# blocks and the 3x3x3 res5 kernels cost over half of a training step on a 2-core CPU.
# In the demo's 10-minute budget this model trains 24 epochs and reaches 0.77-0.81
# held-out mean-class accuracy; ResNet-18 fits 16 epochs and reached 0.74.
one_block_per_stage = (1, 1, 1, 1)
model = dict(backbone=dict(
    slow_pathway=dict(stage_blocks=one_block_per_stage, inflate=(0, 0, 1, 0)),
    fast_pathway=dict(stage_blocks=one_block_per_stage)))

crop_size = (24, 24)  # pixels (rows, columns); a lying adult spans up to about 20 pixels
crop_person = dict(type='CropAroundPerson', size_px=crop_size)
# Square crops allow every quarter turn and mirror image of the top-down view.
random_flip = dict(type='RandomThermalFlip', horizontal_prob=0.5, vertical_prob=0.5, transpose_prob=0.5)
# Shifts only: a person's size and temperature are cues to the posture, so neither the
# scale nor the temperature gain is jittered.
random_shift = dict(type='RandomThermalAffine', max_shift_px=2.0, scale_range=(1.0, 1.0), prob=0.5)
pack_person = dict(
    type='PackActionInputs',
    meta_keys=('img_shape', 'sensor_id', 'frame_idx', 'timestamp', 'image_id', 'window_padded',
               'object_id', 'person_box_xyxy', 'crop_origin_xy'))

# The person clip before augmentation is the same every epoch: read, repaired, cropped
# and normalized once, then kept in memory (2,300 demo clips: 170 MB).
person_clip = dict(
    type='CachedSteps',
    steps=[{{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person,
           {{_base_.normalize_temperature}}])
train_pipeline = [
    person_clip, random_flip, random_shift, {{_base_.to_channels}}, {{_base_.format_shape}},
    pack_person
]
val_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person,
    {{_base_.normalize_temperature}}, {{_base_.to_channels}}, {{_base_.format_shape}}, pack_person
]
# Loading in the main process: a person clip costs ~1 ms to prepare once its recording is
# in memory, while worker processes on a 2-core CPU take cores from the model (0.22 s per
# iteration with 2 workers, 0.15 s with none). Give workers back on a bigger machine with
# --cfg-options train_dataloader.num_workers=4 train_dataloader.persistent_workers=True.
in_process = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(**in_process, batch_size=16,
                      dataset=dict(sample_unit='person', pipeline=val_pipeline))
test_dataloader = dict(**in_process, batch_size=16,
                       dataset=dict(sample_unit='person', pipeline=val_pipeline))

# Batches of 16: small 24x24 clips train about 1.4x faster per clip than in batches of 8 on
# a 2-core CPU, and the per-iteration overhead is shared by more clips. The learning rate
# scales linearly from the whole-frame recipe's 0.01 at batch 8.
train_dataloader = dict(**in_process, batch_size=16,
                        dataset=dict(sample_unit='person', pipeline=train_pipeline))
# foreach: one vectorized update over all parameters instead of a Python loop per tensor.
optim_wrapper = dict(optimizer=dict(lr=0.02, foreach=True))

# Cosine decay to zero over the run (any --epochs), per iteration: short runs such as the
# demo's 24 epochs end at a small LR instead of stepping down once.
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=50, eta_min=0, by_epoch=True, begin=0, end=50,
         convert_to_iter_based=True)
]

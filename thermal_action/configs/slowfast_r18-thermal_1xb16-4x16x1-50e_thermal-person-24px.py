# Person-centred thermal-native SlowFast: one sample per annotated person, a 24x24 pixel
# window of the 40x60 frames around the person's keyframe box (the person's whole body
# and its surroundings at full sensor resolution), labelled with that person's class.
# Cheaper per clip than the whole frame (see benchmarks/model_cost.py), and no clip-label
# rule is needed when people in a keyframe do different things.
_base_ = ['./slowfast_r18-thermal_1xb8-4x16x1-50e_thermal-40x60.py']

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

train_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person, {{_base_.normalize_temperature}},
    random_flip, random_shift,
    {{_base_.to_channels}}, {{_base_.format_shape}}, pack_person
]
val_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person,
    {{_base_.normalize_temperature}}, {{_base_.to_channels}}, {{_base_.format_shape}}, pack_person
]
val_dataloader = dict(dataset=dict(sample_unit='person', pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(sample_unit='person', pipeline=val_pipeline))

# Batches of 16: small 24x24 clips train about 1.4x faster per clip than in batches of 8 on
# a 2-core CPU, and the per-iteration overhead is shared by more clips. The learning rate
# scales linearly from the whole-frame recipe's 0.01 at batch 8.
train_dataloader = dict(batch_size=16, dataset=dict(sample_unit='person', pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=0.02))

# Cosine decay to zero over the run (any --epochs), per iteration: short runs such as the
# demo's 16 epochs end at a small LR instead of stepping down once.
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=50, eta_min=0, by_epoch=True, begin=0, end=50,
         convert_to_iter_based=True)
]

# The seed's SlowFast R50, 40x60 frames upsampled to 256x256 with three identical
# channels so Kinetics-400 weights fit: the GPU recipe. The whole field of view is kept
# (a 256 crop of a 256x384 resize would cut 10 sensor columns off each side).
_base_ = [
    './_base_/models/slowfast_r50.py', './_base_/datasets/thermal_hdf5.py',
    './_base_/schedules/sgd_50e.py', './_base_/default_runtime.py'
]
input_size = 256  # pixels
resize = dict(type='Resize', scale=(input_size, input_size), keep_ratio=False)
to_rgb_channels = dict(type='ThermalToChannels', num_channels=3)

train_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, {{_base_.jitter_temperature}},
    {{_base_.normalize_temperature}}, {{_base_.random_flip}}, {{_base_.random_affine}},
    resize, to_rgb_channels, {{_base_.format_shape}}, {{_base_.pack_inputs}}
]
val_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, {{_base_.normalize_temperature}},
    resize, to_rgb_channels, {{_base_.format_shape}}, {{_base_.pack_inputs}}
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))

# The sim-to-real recipe for the causal edge model (person-lite-causal: each clip ends at
# its keyframe). Fine-tune from a person-lite-causal model trained on simulated recordings:
#   thermal-action train sim2real-lite-causal --data-root DATA \
#       --pretrained work_dirs/lite-causal-sim/epoch_24.pth --keep-head
_base_ = ['./slowfast_r10-thermal_1xb16-2x32x1-25e_thermal-person-sim2real-lite-24px.py']

causal = dict(keyframe_anchor='end')
# A clip that ends at the keyframe, shifted up to 8 frames either way at up to 1.25x
# speed, needs its whole span before the middle of the dense window:
# functional.dense_window_len(16, 4, 8, 1.25, 'end') = 168 frames.
dense_person_clip = dict(
    type='CachedSteps',
    steps=[dict(type='LoadThermalWindow', clip_len=168, frame_interval=1, anchor='centre'),
           {{_base_.repair_pixels}}, {{_base_.crop_person}}, {{_base_.normalize_temperature}}])
train_pipeline = [
    dense_person_clip, {{_base_.temporal_crop}}, {{_base_.random_flip}}, {{_base_.random_shift}},
    {{_base_.to_channels}}, {{_base_.format_shape}}, {{_base_.pack_person}}
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline, **causal))
val_dataloader = dict(dataset=causal)
test_dataloader = dict(dataset=causal)

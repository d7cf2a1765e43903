# The person-centred recipe with a window that follows the person: each frame of the clip
# is cut around where the person is in that frame (their annotated boxes at the nearby
# keyframes, linear between them; at inference, the tracker's boxes) instead of around
# the keyframe box only, so a person walking across the room stays in the middle of the
# clip. docs/results.md compares it with the fixed keyframe crop on held-out recordings.
_base_ = ['./slowfast_r10-thermal_1xb16-4x16x1-50e_thermal-person-24px.py']

crop_person = dict(type='CropAroundPerson', size_px={{_base_.crop_size}}, follow_track=True)
person_clip = dict(
    type='CachedSteps',
    steps=[{{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person,
           {{_base_.normalize_temperature}}])
train_pipeline = [
    person_clip, {{_base_.random_flip}}, {{_base_.random_shift}}, {{_base_.to_channels}},
    {{_base_.format_shape}}, {{_base_.pack_person}}
]
val_pipeline = [
    {{_base_.load_window}}, {{_base_.repair_pixels}}, crop_person,
    {{_base_.normalize_temperature}}, {{_base_.to_channels}}, {{_base_.format_shape}},
    {{_base_.pack_person}}
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))

# Person detector for unannotated recordings: a small CenterNet on one 40x60 frame,
# trained on simulated frames (every person boxed) and the real train split's annotated
# frames, with the annotated furniture and objects as hard negatives. Train on a dataset
# built with a recording or session split (data build), never the leaking random one.
_base_ = [
    './_base_/models/centernet_thermal.py', './_base_/datasets/person_frames.py',
    './_base_/schedules/sgd_50e.py', './_base_/default_runtime.py'
]

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_begin=1, val_interval=6)
optim_wrapper = dict(_delete_=True, optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(save_best='det/ap50', rule='greater'))

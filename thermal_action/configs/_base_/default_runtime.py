# Runtime shared by every thermal config: registries, hooks, logging, seeding.
default_scope = 'mmaction'
# Importing the plugin applies its compat fixes and registers its modules, also when the
# config runs under MMAction2's own tools/train.py and tools/test.py.
custom_imports = dict(imports=['thermal_action.registration'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Saved every epoch (atomically, see compat) so an interrupted run resumes; the best
    # mean-class accuracy is kept separately as best_acc_mean_class_epoch_N.pth.
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='acc/mean_class', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))
# A load_from or resumed checkpoint must fit the model tensor for tensor (MMEngine would
# load it partly and only log the mismatch); --pretrained is the way to a partial load.
custom_hooks = [dict(type='CheckpointFitHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)

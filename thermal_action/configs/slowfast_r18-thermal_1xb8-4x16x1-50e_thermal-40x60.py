# Thermal-native SlowFast at the sensor's 40x60, single channel: the CPU/edge recipe.
_base_ = [
    './_base_/models/slowfast_r18_thermal.py', './_base_/datasets/thermal_hdf5.py',
    './_base_/schedules/sgd_50e.py', './_base_/default_runtime.py'
]

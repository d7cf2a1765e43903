import numpy as np

from thermal_action.data.samplers import ClassBalancedSampler, balanced_weights


class _Labels:
    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, index):
        return dict(label=self.labels[index])


def test_weights_interpolate_between_uniform_and_balanced():
    labels = np.array([0] * 90 + [1] * 10)
    uniform = balanced_weights(labels, 0.0)
    balanced = balanced_weights(labels, 1.0)
    assert np.allclose(uniform, 0.01)
    assert np.isclose(balanced[labels == 1].sum(), 0.5)


def test_rare_class_is_oversampled_and_epochs_differ():
    dataset = _Labels([0] * 95 + [1] * 5)
    sampler = ClassBalancedSampler(dataset, power=1.0, seed=0)
    assert len(sampler) == 100
    first = list(sampler)
    rare_share = np.mean([dataset.labels[i] == 1 for i in first])
    assert 0.35 < rare_share < 0.65  # 5% of the data, about half of the draws
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first  # reproducible per epoch

"""The weight guard sees parameters and buffers; the test refuses non-finite PSNRs."""
import math

import numpy as np
import pytest
import torch

from lnta.callbacks.guards import FiniteWeights, first_bad_tensor
from lnta.metrics.protocol import check_finite_psnr
from lnta.errors import ConfigError, DataError


def _net():
    return torch.nn.Sequential(torch.nn.Conv3d(1, 2, 3), torch.nn.BatchNorm3d(2))


def test_finite_model_passes():
    assert first_bad_tensor(_net(), max_abs=1e6) is None


def test_nan_parameter_is_named():
    net = _net()
    with torch.no_grad():
        net[0].bias[1] = math.nan
    name, value = first_bad_tensor(net)
    assert name == "0.bias" and math.isnan(value)


def test_non_finite_batchnorm_buffer_is_named():
    net = _net()
    net[1].running_var[0] = math.inf  # the weights are fine: only the running statistics overflowed
    assert first_bad_tensor(net) == ("1.running_var", math.inf)


def test_exploded_but_finite_weight_counts_only_with_max_abs():
    net = _net()
    with torch.no_grad():
        net[0].weight.mul_(1e22)
    assert first_bad_tensor(net, max_abs=None) is None
    assert first_bad_tensor(net, max_abs=1e6)[0] == "0.weight"


def test_every_n_steps_must_be_positive():
    with pytest.raises(ConfigError, match="every_n_steps=0"):
        FiniteWeights(every_n_steps=0)


def test_non_finite_psnr_is_refused_naming_the_first_frame():
    psnr = np.array([30.0, np.nan, 31.0, np.inf])
    with pytest.raises(DataError, match=r"model.ckpt: 2 of 4 frames .* video b frame 11"):
        check_finite_psnr(psnr, ["a", "b"], np.array([0, 1, 1, 1]), np.array([8, 11, 12, 13]), "model.ckpt")
    check_finite_psnr(np.array([30.0, 31.0]), ["a"], np.array([0, 0]), np.array([8, 9]), "model.ckpt")

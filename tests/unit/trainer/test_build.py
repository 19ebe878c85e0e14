"""The one builder of the LightningModule: what its checkpoints hold."""
import pytest
import torch

from lnta.models import ConvAE3D
from lnta.models.module import LNTAModule
from lnta.trainer.build import build_module
from lnta.trainer.precision import resolve_speed

CONFIG = {"model": {"_target_": "lnta.models.ConvAE3D", "width": 0.125}, "data": {}}


@pytest.mark.parametrize("speed", [None, resolve_speed("exact", "cpu", inference_compile=False),
                                   resolve_speed("fast", "cpu", inference_compile=False),
                                   resolve_speed("fast", "cpu", inference_compile=True)],
                         ids=["no-speed", "exact", "fast-eager", "fast-compiled"])
def test_the_state_dict_holds_the_weights_once(speed):
    """Bug: an eager test forward (the model itself) was registered as a second submodule, so every
    checkpoint held the weights twice and one made elsewhere (converted weights) failed to load."""
    module = build_module(CONFIG, 8, speed=speed)
    keys = list(module.state_dict())
    assert keys and all(k.startswith("model.") for k in keys), keys[:5]
    assert len(keys) == len(ConvAE3D(width=0.125).state_dict())
    assert module.reconstructor is not None


def test_a_module_as_test_forward_is_refused():
    model = ConvAE3D(width=0.125)
    with pytest.raises(TypeError, match="test_forward"):
        LNTAModule(model, test_forward=model)
    assert torch.equal(LNTAModule(model).reconstructor(torch.zeros(1, 1, 16, 32, 32)),
                       model(torch.zeros(1, 1, 16, 32, 32)))

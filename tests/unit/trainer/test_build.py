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


def test_the_optimizer_gets_plain_values_so_its_state_loads_with_weights_only(tmp_path):
    """Bug: Hydra passed conf/train.yaml's ``betas: [0.9, 0.999]`` as an omegaconf ListConfig; torch 2.4 (the
    floor of our range) kept it in the optimizer's state, so no checkpoint loaded with ``weights_only=True``
    (every training run failed when it stored its calibration). Newer torch makes a tuple of it, hiding the bug."""
    config = {**CONFIG, "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-4,
                                      "betas": [0.9, 0.999], "weight_decay": 0.0}}
    module = build_module(config, 8, train=True)
    assert type(module.optimizer_factory.keywords["betas"]) is list
    optimizer = module.configure_optimizers()
    torch.save(optimizer.state_dict(), tmp_path / "opt.pt")
    assert list(torch.load(tmp_path / "opt.pt", weights_only=True)["param_groups"][0]["betas"]) == [0.9, 0.999]

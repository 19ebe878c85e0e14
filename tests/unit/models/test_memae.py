"""MemAE: shapes, the shrinkage and entropy rules against hand-computed values, the loss, a real CLI run."""
import json
import math

import pytest
import torch

from lnta.trainer.checkpoint import check_stored_config
from lnta.errors import ConfigError
from lnta.models import ConvAE3D, MemAE
from lnta.models.memae import Memory, addressing_entropy, hard_shrink
from lnta.models.module import LNTAModule
from tests.conftest import run_cli


def test_paper_shapes_and_parameter_count():
    model = MemAE().eval()
    assert sum(p.numel() for p in model.parameters()) == 5_980_801 + 2000 * 256
    assert model.memory.weight.shape == (2000, 256)
    x = torch.zeros(1, 1, 16, 256, 256)
    with torch.no_grad():
        latent = model.encoder(x)
        read, weights = model.memory(latent)
        out = model.decoder(read)
    assert latent.shape == read.shape == (1, 256, 2, 16, 16)
    assert weights.shape == (1, 2, 16, 16, 2000)
    assert out.shape == x.shape


def test_small_shapes_and_the_backbone_names():
    model = MemAE(width=0.125, slots=50)
    assert model.latent_channels == 32 and model.memory.weight.shape == (50, 32)
    x = torch.rand(3, 1, 16, 32, 32) * 2 - 1
    latent = model.encoder(x)
    read, weights = model.memory(latent)
    assert latent.shape == read.shape == (3, 32, 2, 2, 2) and weights.shape == (3, 2, 2, 2, 50)
    assert model(x).shape == x.shape
    # the conv AE's layers under the same names, no Tanh at the end, and the memory
    backbone = ConvAE3D(width=0.125).state_dict()
    mine = model.state_dict()
    assert set(mine) == set(backbone) | {"memory.weight"}
    assert all(mine[k].shape == v.shape for k, v in backbone.items())
    assert isinstance(ConvAE3D().decoder[-1], torch.nn.Tanh)
    assert isinstance(model.decoder[-1], torch.nn.ConvTranspose3d)


def test_hard_shrink_on_a_hand_made_vector():
    w = torch.tensor([0.5, 0.0025, 0.0024, 0.0026, 0.0, 0.0100], dtype=torch.float64)
    out = hard_shrink(w, 0.0025)
    # relu(w - l) * w / (|w - l| + 1e-12): w above the threshold (up to 1e-12 relative), 0 at or below it
    expected = [0.5, 0.0, 0.0, 0.0026, 0.0, 0.0100]
    assert out.tolist() == pytest.approx(expected, rel=1e-7, abs=0)
    assert out[1] == 0 and out[2] == 0 and out[4] == 0
    assert out[3].item() == pytest.approx(0.0026 * 0.0001 / (0.0001 + 1e-12), rel=1e-12)


def test_addressing_softmax_shrink_renormalise_and_read():
    memory = Memory(slots=3, dim=2, shrink_threshold=0.1, similarity="dot")
    with torch.no_grad():
        memory.weight.copy_(torch.tensor([[2.0, 0.0], [1.0, 0.0], [0.0, 0.0]]))
    z = torch.tensor([[1.0, 0.0]])                       # logits 2, 1, 0
    soft = torch.softmax(torch.tensor([2.0, 1.0, 0.0]), 0)
    assert soft.tolist() == pytest.approx([0.6652, 0.2447, 0.0900], abs=1e-4)  # the third falls below 0.1
    w = memory.addressing(z)[0]
    s = 1 / (1 + math.exp(-1))                           # renormalised: softmax of (2, 1) = (sigmoid(1), 1 - sigmoid(1))
    assert w.tolist() == pytest.approx([s, 1 - s, 0.0], abs=1e-6)
    latent = z.T.reshape(1, 2, 1, 1, 1)                  # one position, (B, C, T, H, W)
    read, weights = memory(latent)
    assert read.flatten().tolist() == pytest.approx([2 * s + (1 - s), 0.0], abs=1e-6)
    assert weights.shape == (1, 1, 1, 1, 3)


def test_cosine_addressing_ignores_the_query_norm():
    torch.manual_seed(0)
    memory = Memory(slots=7, dim=4, shrink_threshold=0.0, similarity="cosine")
    z = torch.randn(5, 4)
    assert torch.allclose(memory.addressing(z), memory.addressing(10 * z), atol=1e-6)
    cos = torch.nn.functional.cosine_similarity(z[:, None], memory.weight[None], dim=-1)
    assert torch.allclose(memory.addressing(z), torch.softmax(cos, 1), atol=1e-6)


def test_weights_sum_to_one_per_position():
    torch.manual_seed(0)
    latent = torch.randn(2, 8, 2, 3, 3)
    _, plain = Memory(slots=20, dim=8, shrink_threshold=0.0)(latent)
    assert torch.allclose(plain.sum(-1), torch.ones(2, 2, 3, 3), atol=1e-6)
    memory = Memory(slots=20, dim=8, shrink_threshold=0.0025)
    with torch.no_grad():
        memory.weight[0] = 50 * latent[0, :, 0, 0, 0]    # one item aligned with one position: sharp weights there
    _, shrunk = memory(latent)
    sums = shrunk.sum(-1)
    alive = (shrunk > 0).any(-1)
    assert torch.allclose(sums[alive], torch.ones_like(sums[alive]), atol=1e-6)
    assert torch.all(sums[~alive] == 0) and alive[0, 0, 0, 0]
    assert torch.all((shrunk == 0) | (shrunk > 0.0025))   # nothing between 0 and the threshold survives


def test_entropy_of_hand_made_weights():
    w = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    assert addressing_entropy(w).item() == pytest.approx(math.log(4) / 2, rel=1e-9)
    w3 = torch.tensor([[[0.5, 0.5]], [[0.5, 0.5]]], dtype=torch.float64)   # mean over every axis but the last
    assert addressing_entropy(w3).item() == pytest.approx(math.log(2), rel=1e-9)


@pytest.mark.filterwarnings("ignore:.*self.trainer.*")
def test_training_loss_adds_the_weighted_entropy():
    torch.manual_seed(0)
    module = LNTAModule(MemAE(width=0.125, slots=30, shrink_threshold=0.0))
    batch = {"clip": torch.randint(0, 256, (2, 1, 16, 16, 16), dtype=torch.uint8)}
    loss = module.training_step(batch, 0)
    inputs, targets, _ = module.make_inputs(batch)
    out = module.model(inputs)
    term, logged = module.model.regularizer()
    mse = (out - targets).pow(2).mean()
    assert term.item() == pytest.approx(0.0002 * logged["entropy"].item(), rel=1e-6)
    assert 0 < logged["entropy"].item() <= math.log(30) + 1e-6
    assert loss.item() == pytest.approx((mse + term).item(), rel=1e-6)
    with pytest.raises(RuntimeError, match="forward pass"):
        module.model.regularizer()                       # read once per forward
    with torch.no_grad():
        module.model(inputs)                             # scoring: no entropy kept
    assert module.model.last_entropy is None


def test_cosine_addressing_at_the_paper_settings_passes_no_gradient():
    """Why ``similarity: dot`` is the default: with cosine, N = 2000 and λ = 0.0025 every weight is
    shrunk to 0 at initialisation, so the encoder and the memory get exactly zero gradient."""
    torch.manual_seed(0)
    x = torch.rand(2, 1, 16, 32, 32) * 2 - 1
    grads = {}
    for similarity in ("cosine", "dot"):
        model = MemAE(width=0.25, similarity=similarity)
        model(x).pow(2).mean().add(model.regularizer()[0]).backward()
        grads[similarity] = (model.encoder[0].weight.grad.abs().sum().item(), model.memory.weight.grad.abs().sum().item())
    assert grads["cosine"] == (0.0, 0.0)
    assert grads["dot"][0] > 0 and grads["dot"][1] > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"slots": 0}, r"model\.slots=0"),
    ({"shrink_threshold": -0.1}, r"model\.shrink_threshold=-0\.1"),
    ({"similarity": "l2"}, r"model\.similarity='l2'"),
    ({"entropy_weight": -1}, r"model\.entropy_weight=-1"),
])
def test_invalid_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MemAE(width=0.125, **kwargs)


def test_checkpoint_allow_list_admits_memae():
    check_stored_config({"model": {"_target_": "lnta.models.MemAE", "width": 1.0}}, "x.ckpt")


@pytest.mark.slow
def test_memae_trains_tests_and_evaluates_through_the_cli(tmp_path, tiny):
    run_cli("lnta.train", "+experiment=synthetic_memae_skip", "model.slots=50", "trainer.log_every_n_steps=1",
            "trainer.limit_train_batches=null", *tiny)
    run = tmp_path / "run"
    trained = json.loads((run / "metrics.json").read_text())
    rows = (run / "csv" / "metrics.csv").read_text().splitlines()
    entropy = [r for r in rows[1:] if r.split(",")[rows[0].split(",").index("train/entropy")]]
    assert len(entropy) == 2                              # logged at both steps
    run_cli("lnta.eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false")
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert evaluated["auc_micro"] == pytest.approx(trained["auc_micro"], abs=1e-9)
    assert evaluated["n_frames_scored"] == trained["n_frames_scored"] > 0

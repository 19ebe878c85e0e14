"""Patch-mask rules and the loss switch, against hand-computed values and many draws."""
import numpy as np
import pytest
import torch

from lnta.anomaly import PatchAnomaly, PseudoAnomaly, assign_types
from lnta.anomaly.intruders.banks import IntruderBank
from lnta.anomaly.masks import centre_walk, patch_sizes, smoothmix_s_mask
from lnta.models.module import LNTAModule
from lnta.models import ConvAE3D


def test_smoothmix_s_reference_example():
    m = smoothmix_s_mask(torch.tensor(100), torch.tensor(60), torch.tensor(80), torch.tensor(40), 256, 256)
    assert m.shape == (256, 256)
    row = m[60]  # through the centre: the x ramp alone
    assert torch.all(row[60:141] == 1)
    assert row[56:60].tolist() == [0.0, 0.25, 0.5, 0.75]          # 4-px ramp left
    assert row[141:145].tolist() == [0.75, 0.5, 0.25, 0.0]        # and right
    assert row[:56].sum() == 0 and row[145:].sum() == 0
    col = m[:, 100]
    assert torch.all(col[40:81] == 1)
    assert col[38:40].tolist() == [0.0, 0.5] and col[81:83].tolist() == [0.5, 0.0]  # 2-px ramps
    assert m[39, 59] == pytest.approx(0.5 * 0.75)  # product of the two ramps


def test_smoothmix_s_box_is_clipped_at_the_frame_edge():
    m = smoothmix_s_mask(torch.tensor(0), torch.tensor(255), torch.tensor(40), torch.tensor(40), 256, 256)
    assert m[255, 0] == 1 and m[235, 0] == 1 and m[255, 20] == 1 and m[255, 22] == 0


def test_patch_sizes_rule_and_range():
    u = torch.tensor([0.0, 0.05, 0.5, 0.999999])
    assert patch_sizes(u, 0.5, 256).tolist() == [10, 10, 64, 127]
    many = patch_sizes(torch.rand(20000), 0.5, 256)
    assert many.min() >= 10 and many.max() <= 0.5 * 256


def test_centre_walk_steps_and_clamp():
    start = torch.tensor([[5, 250]])
    steps = torch.tensor([[[-3, 4], [-4, 4], [2, -1], [0, 0]]])
    walk = centre_walk(start, steps, torch.tensor([256, 256]))
    assert walk[0].tolist() == [[5, 250], [2, 254], [0, 256], [2, 255]]


def test_centre_walk_moves_at_most_beta_and_stays_in_frame():
    torch.manual_seed(0)
    beta = 7
    start = torch.randint(64, (2000, 2))
    steps = torch.randint(-beta, beta + 1, (2000, 16, 2))
    walk = centre_walk(start, steps, torch.tensor([64, 64]))
    moves = walk.diff(dim=1).abs()
    assert moves.max() == beta and walk.min() == 0 and walk.max() == 64


def test_patch_anomaly_blend_and_target():
    bank = torch.full((3, 32, 32), 255, dtype=torch.uint8)  # white intruders (+1)
    anomaly = PatchAnomaly(p=1, alpha=0.5, beta=2, intruder=IntruderBank(bank))
    clips = torch.full((2, 1, 16, 64, 64), -1.0)
    inputs, targets = anomaly(clips, {}, torch.tensor([0, 1]))
    assert torch.equal(targets, clips)
    # with I = +1 and X = -1 the blend is 2M - 1, so the mask is recovered exactly
    mask = (inputs + 1) / 2
    assert mask.max() == 1 and mask.min() == 0 and inputs.shape == clips.shape


def test_assign_types_disjoint_intervals():
    u = torch.tensor([0.0, 0.1, 0.19999, 0.2, 0.25, 0.3, 0.99])
    assert assign_types(u, [0.2]).tolist() == [0, 0, 0, -1, -1, -1, -1]
    assert assign_types(u, [0.2, 0.1]).tolist() == [0, 0, 0, 1, 1, -1, -1]
    assert assign_types(u, []).tolist() == [-1] * 7


def test_switch_fraction_close_to_p_over_many_draws():
    torch.manual_seed(0)
    kinds = assign_types(torch.rand(200_000), [0.2, 0.3])
    assert (kinds == 0).float().mean() == pytest.approx(0.2, abs=0.005)
    assert (kinds == 1).float().mean() == pytest.approx(0.3, abs=0.005)


class _Marker(PseudoAnomaly):
    """A pseudo anomaly that makes the input all +1, so tests can see which samples it took."""

    name = "marker"

    def forward(self, clips, batch, index):
        return torch.ones_like(clips[index]), clips[index]


def test_loss_switch_pseudo_target_is_the_normal_clip():
    torch.manual_seed(0)
    module = LNTAModule(ConvAE3D(width=0.125), [_Marker(0.5)])
    clip = torch.randint(0, 256, (64, 1, 16, 16, 16), dtype=torch.uint8)
    inputs, targets, kinds = module.make_inputs({"clip": clip})
    normal = clip.float() / 127.5 - 1
    assert torch.equal(targets, normal)                       # every target is the normal clip
    assert torch.all(inputs[kinds == 0] == 1)                 # pseudo inputs replaced
    assert torch.equal(inputs[kinds == -1], normal[kinds == -1])
    assert 0 < (kinds == 0).sum() < 64


@pytest.mark.filterwarnings("ignore:.*self.trainer.*")
def test_training_loss_is_equal_weight_mean_of_per_sample_mse():
    torch.manual_seed(0)
    module = LNTAModule(ConvAE3D(width=0.125), [_Marker(0.5)]).eval()  # BN stats independent of batching
    batch = {"clip": torch.randint(0, 256, (4, 1, 16, 16, 16), dtype=torch.uint8)}
    torch.manual_seed(1)
    loss = module.training_step(batch, 0)
    torch.manual_seed(1)
    inputs, targets, _ = module.make_inputs(batch)
    expected = torch.stack([((module.model(inputs[i:i + 1]) - targets[i:i + 1]) ** 2).mean() for i in range(4)]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

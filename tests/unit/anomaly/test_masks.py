"""Patch techniques: exact masks against hand-computed values, draw statistics, the kornia contract."""
import math

import kornia.augmentation as K
import pytest
import torch

from lnta.anomaly import PatchAnomaly, SkipFrame
from lnta.anomaly.augment import PatchMix3D, PatchParams
from lnta.anomaly.intruders.banks import IntruderBank
from lnta.anomaly.masks import box_mask, gaussian_mask, mixup_patch_mask, smoothmix_s_mask
from lnta.anomaly.switch import assign_types, pseudo_losses
from lnta.errors import ConfigError

T = torch.tensor


def _profile(values, length, default=0.0):
    out = torch.full((length,), default)
    for i, v in values.items():
        out[i] = v
    return out


def test_smoothmix_s_method_example():
    # METHOD.md: cx=100, cy=60, w=80, h=40 -> 1 on columns 60..140 and rows 40..80,
    # a 4-px column ramp (0.1 * 40) and a 2-px row ramp (0.1 * 20).
    mask = smoothmix_s_mask(T(100), T(60), T(80), T(40), 256, 256)
    cols = {**{c: 1.0 for c in range(60, 141)}, 57: 0.25, 58: 0.5, 59: 0.75, 141: 0.75, 142: 0.5, 143: 0.25}
    rows = {**{r: 1.0 for r in range(40, 81)}, 39: 0.5, 81: 0.5}
    expected = _profile(rows, 256)[:, None] * _profile(cols, 256)[None, :]
    assert torch.equal(mask, expected)


def test_smoothmix_c_peak_and_width():
    mask = gaussian_mask(T(100), T(60), T(20), T(10), 128, 256)
    assert mask.max() == 1.0 and mask[60, 100] == 1.0
    assert mask[60, 120].item() == pytest.approx(math.exp(-0.5), rel=1e-6)   # one sigma in x
    assert mask[70, 100].item() == pytest.approx(math.exp(-0.5), rel=1e-6)   # one sigma in y
    assert mask[80, 140].item() == pytest.approx(math.exp(-2.0 - 2.0), rel=1e-5)


def test_cutmix_box_is_exactly_w_by_h():
    mask = box_mask(T(100), T(60), T(80), T(40), 256, 256)
    assert mask.sum() == 80 * 40
    assert torch.equal(mask.nonzero().amin(0), T([40, 60])) and torch.equal(mask.nonzero().amax(0), T([79, 139]))
    # Reference quirk: x1 = clip(cx - w//2) first, then x2 = clip(x1 + w): a box cut by the left
    # edge keeps its full width; one cut by the right edge loses the part outside.
    assert box_mask(T(10), T(60), T(80), T(40), 256, 256).sum() == 80 * 40
    assert box_mask(T(250), T(60), T(80), T(40), 256, 256).sum() == (256 - 210) * 40


def test_mixup_patch_is_half_and_half_inside():
    bank = IntruderBank(torch.full((1, 8, 8), 255, dtype=torch.uint8))       # intruder = +1
    aug = PatchMix3D(bank, "mixup_patch", alpha=0.5, beta=0)
    clips = torch.full((2, 1, 4, 64, 64), -0.5)
    out = aug(clips)
    mask = mixup_patch_mask(*_centres_sizes(aug._params), 64, 64)
    inside = mask.unsqueeze(1) > 0
    assert set(mask.unique().tolist()) == {0.0, 0.5}
    assert torch.allclose(out[inside], torch.full_like(out[inside], 0.25))     # 0.5 * 1 + 0.5 * -0.5
    assert torch.equal(out[~inside], clips[~inside])


def _centres_sizes(params):
    c, s = params["centres"], params["size"]
    return c[..., 0], c[..., 1], s[:, None, 0], s[:, None, 1]


@pytest.mark.parametrize("technique", ["smoothmix_s", "smoothmix_c", "cutmix", "mixup_patch"])
def test_blend_is_mask_weighted(technique):
    torch.manual_seed(0)
    bank = IntruderBank(torch.randint(0, 256, (5, 32, 32), dtype=torch.uint8))
    aug = PatchMix3D(bank, technique, alpha=0.5, beta=4)
    clips = torch.rand(3, 1, 8, 48, 64) * 2 - 1
    out = aug(clips)
    mask = aug.masks(aug._params, 48, 64, technique).unsqueeze(1)
    intruder = bank.frames(aug._params, 8, 48, 64).unsqueeze(1)
    assert torch.allclose(out, mask * intruder + (1 - mask) * clips, atol=1e-6)


def test_draw_statistics_sizes_and_centre_walk():
    torch.manual_seed(1)
    alpha, beta, n, frames = 0.5, 10, 4000, 16
    params = PatchParams(alpha, beta)((n, 1, frames, 256, 256))
    size, centres = params["size"], params["centres"]
    assert size.min() == 10 and size.max() < alpha * 256 and size.max() >= alpha * 256 - 3
    assert (size == size.floor()).all()
    assert centres[:, 0].min() == 0 and centres[:, 0].max() == 255                  # start in [0, W - 1]
    steps = centres[:, 1:] - centres[:, :-1]
    assert steps.abs().max() == beta and centres.min() >= 0 and centres.max() <= 256
    assert abs(steps.float().mean().item()) < 0.3                                    # unbiased walk
    inclusive = PatchParams(alpha, 0, centre_inclusive=True)((n, 1, 2, 16, 16))["centres"]
    assert inclusive.max() == 16 and (inclusive[:, 0] == inclusive[:, 1]).all()     # SmoothMixC: [0, W], beta 0


def test_switch_fraction_and_disjoint_types():
    torch.manual_seed(2)
    u = torch.rand(200_000)
    kinds = assign_types(u, [0.2, 0.1, 0.3])
    fractions = [(kinds == k).float().mean().item() for k in (-1, 0, 1, 2)]
    assert fractions == pytest.approx([0.4, 0.2, 0.1, 0.3], abs=0.005)
    assert ((kinds == 0) == (u < 0.2)).all() and ((kinds == 2) == ((u >= 0.3) & (u < 0.6))).all()


def test_steal_loss_is_negative_and_bounded():
    per_sample = T([0.1, 0.1, 3.0, 0.5])
    kinds = T([-1, 0, 0, 1])
    out = pseudo_losses(per_sample, kinds, [1.0, None])
    assert torch.equal(out, T([0.1, -0.1, -1.0, 0.5]))


def test_kornia_replay_and_composition():
    torch.manual_seed(3)
    bank = IntruderBank(torch.randint(0, 256, (7, 16, 16), dtype=torch.uint8))
    aug = PatchMix3D(bank, "smoothmix_s", alpha=0.5, beta=3)
    clips = torch.rand(2, 1, 6, 32, 32) * 2 - 1
    first = aug(clips)
    saved = {k: v.clone() for k, v in aug._params.items()}
    assert not torch.equal(aug(clips), first)                                      # new draws
    assert torch.equal(aug(clips, params=saved), first)                            # replay
    pipeline = K.AugmentationSequential(aug, K.RandomHorizontalFlip3D(p=1.0), data_keys=["input"])
    flipped = pipeline(clips, params=None)
    assert flipped.shape == clips.shape
    same = aug(clips, params=dict(aug._params)).flip(-1)
    assert torch.equal(flipped, same)


def test_same_seed_same_pseudo_anomalies():
    def draw():
        torch.manual_seed(7)
        anomaly = PatchAnomaly(1.0, "smoothmix_c", intruder={"source": "synthetic"})
        return anomaly(torch.zeros(4, 1, 16, 64, 64), {}, torch.arange(4))[0]

    assert torch.equal(draw(), draw())


@pytest.mark.parametrize("kwargs, match", [
    ({"p": 1.5}, r"anomaly\.p=1\.5"),
    ({"p": 0.2, "alpha": 0.0}, r"anomaly\.alpha=0\.0"),
    ({"p": 0.2, "alpha": 1.5}, r"anomaly\.alpha=1\.5"),
    ({"p": 0.2, "beta": -1}, r"anomaly\.beta=-1"),
    ({"p": 0.2, "beta": 2.5}, r"anomaly\.beta=2\.5"),
    ({"p": 0.2, "technique": "blur"}, r"anomaly\.technique='blur'"),
    ({"p": 0.2, "objective": "max"}, r"anomaly\.objective='max'"),
    ({"p": 0.2, "objective": "steal", "steal_margin": 0}, r"anomaly\.steal_margin=0"),
])
def test_invalid_patch_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PatchAnomaly(intruder={"source": "synthetic"}, **kwargs)


@pytest.mark.parametrize("skips", [[1], [], [2.5]])
def test_invalid_skips(skips):
    with pytest.raises(ConfigError, match=r"anomaly\.skips="):
        SkipFrame(0.2, skips)


def test_type_probabilities_must_sum_to_at_most_one():
    from omegaconf import OmegaConf

    from lnta.anomaly.switch import anomalies_from_config

    spec = {"_target_": "lnta.anomaly.SkipFrame", "p": 0.6}
    assert len(anomalies_from_config(OmegaConf.create({"types": {"a": spec, "b": {**spec, "p": 0.4}}}))) == 2
    with pytest.raises(ConfigError, match=r"anomaly\.types\.a\.p \+ anomaly\.types\.b\.p = 1\.2: expected"):
        anomalies_from_config(OmegaConf.create({"types": {"a": spec, "b": spec}}))

"""The follow-ups' pseudo anomalies: reverse, repeat, shuffle (exact index rules) and the noise patch."""
import itertools
from collections import Counter

import pytest
import torch

from lnta.anomaly import (NoiseBank, PatchAnomaly, PseudoAnomaly, RepeatFrames, ReverseClip, ShuffleClip,
                          build_intruders)
from lnta.anomaly.augment import PatchMix3D
from lnta.anomaly.temporal import gather_frames, repeat_indices, reverse_indices, shuffle_indices
from lnta.errors import ConfigError
from lnta.models.module import LNTAModule
from lnta.models import ConvAE3D


def _numbered(n: int = 3, frames: int = 16, size: int = 4) -> torch.Tensor:
    """Clips whose every pixel encodes (sample, frame): value = 100 * b + t, so gathers can be read back."""
    values = 100 * torch.arange(n)[:, None] + torch.arange(frames)[None, :]
    return values[:, None, :, None, None].expand(n, 1, frames, size, size).float()


def _frames_of(clips: torch.Tensor) -> torch.Tensor:
    """(n, T) frame numbers read back from :func:`_numbered` clips (checks each frame is uniform)."""
    first = clips[:, 0, :, 0, 0]
    assert torch.all(clips == first[:, None, :, None, None])
    return (first - 100 * torch.arange(len(clips))[:, None]).long()


def test_gather_frames_rule():
    clips = _numbered(2, 5)
    out = gather_frames(clips, torch.tensor([[4, 0, 0], [1, 2, 3]]))
    assert out.shape == (2, 1, 3, 4, 4)
    assert _frames_of(out).tolist() == [[4, 0, 0], [1, 2, 3]]


def test_reverse_index_rule_and_target():
    assert reverse_indices(2, 5).tolist() == [[4, 3, 2, 1, 0]] * 2
    clips = _numbered(3)
    inputs, targets = ReverseClip(1.0)(clips, {}, torch.tensor([2, 0]))
    assert _frames_of(inputs[[1]]).tolist() == [list(range(15, -1, -1))]
    assert torch.equal(inputs, clips[[2, 0]].flip(2)) and torch.equal(targets, clips[[2, 0]])


def test_repeat_index_rule():
    assert repeat_indices(torch.tensor([2]), 16).tolist() == [[0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]]
    assert repeat_indices(torch.tensor([3]), 16).tolist() == [[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5]]
    assert repeat_indices(torch.tensor([4, 16]), 8).tolist() == [[0, 0, 0, 0, 1, 1, 1, 1], [0] * 8]
    clips = _numbered(4)
    anomaly = RepeatFrames(1.0, repeats=[3])
    inputs, targets = anomaly(clips, {}, torch.arange(4))
    assert _frames_of(inputs).tolist() == [[i // 3 for i in range(16)]] * 4
    assert torch.equal(targets, clips)


def test_repeat_draws_r_per_sample_from_the_set():
    torch.manual_seed(0)
    clips = _numbered(600)
    anomaly = RepeatFrames(1.0, repeats=[2, 3, 4])
    inputs, _ = anomaly(clips, {}, torch.arange(600))
    r = anomaly._params["repeats"]
    frames = _frames_of(inputs)
    for k in (2, 3, 4):                                        # every sample follows the rule of its own r
        assert torch.equal(frames[r == k], repeat_indices(torch.tensor([k]), 16).expand(int((r == k).sum()), 16))
    counts = Counter(r.tolist())
    assert set(counts) == {2, 3, 4} and all(abs(c / 600 - 1 / 3) < 0.07 for c in counts.values())


def test_shuffle_is_a_permutation_never_the_identity():
    torch.manual_seed(0)
    perms = shuffle_indices(5000, 16)
    assert torch.equal(perms.sort(1).values, torch.arange(16).expand(5000, 16))
    assert not (perms == torch.arange(16)).all(1).any()
    assert shuffle_indices(50, 2).tolist() == [[1, 0]] * 50         # the only non-identity order of 2 frames
    clips = _numbered(3)
    inputs, targets = ShuffleClip(1.0)(clips, {}, torch.arange(3))
    frames = _frames_of(inputs)
    assert torch.equal(frames.sort(1).values, torch.arange(16).expand(3, 16)) and torch.equal(targets, clips)


def test_shuffle_is_uniform_over_the_other_orders():
    torch.manual_seed(1)
    perms = shuffle_indices(12000, 3)
    counts = Counter(map(tuple, perms.tolist()))
    others = set(itertools.permutations(range(3))) - {(0, 1, 2)}
    assert set(counts) == others
    assert all(abs(c / 12000 - 1 / 5) < 0.02 for c in counts.values())


def test_shuffle_needs_two_frames():
    with pytest.raises(ConfigError, match=r"data\.clip_len=1"):
        shuffle_indices(2, 1)


@pytest.mark.parametrize("kind", [RepeatFrames, ShuffleClip])
def test_temporal_draws_replay_and_follow_the_seed(kind):
    clips = _numbered(4)
    torch.manual_seed(3)
    anomaly = kind(1.0)
    first, _ = anomaly(clips, {}, torch.arange(4))
    saved = dict(anomaly._params)
    torch.manual_seed(3)
    again, _ = kind(1.0)(clips, {}, torch.arange(4))
    assert torch.equal(first, again)                                    # same seed, same draws
    redrawn = [anomaly(clips, {}, torch.arange(4))[0] for _ in range(3)]
    assert any(not torch.equal(first, r) for r in redrawn)              # new draws otherwise
    assert torch.equal(anomaly(clips, {}, torch.arange(4), params=saved)[0], first)  # replay


@pytest.mark.parametrize("repeats", [[1], [], [2.5]])
def test_invalid_repeats(repeats):
    with pytest.raises(ConfigError, match=r"anomaly\.repeats="):
        RepeatFrames(0.2, repeats)


def test_noise_intruder_through_the_masks():
    torch.manual_seed(0)
    bank = build_intruders(source="noise", sigma=0.3)
    assert isinstance(bank, NoiseBank)
    aug = PatchMix3D(bank, "cutmix", alpha=0.5, beta=2)
    clips = torch.zeros(2, 1, 16, 64, 64)
    out = aug(clips)
    noise = aug._params["intruder_noise"]
    assert noise.shape == (2, 16, 64, 64) and noise.abs().max() <= 1
    assert noise.std().item() == pytest.approx(0.3, rel=0.03)          # clipping at ±1 is ~0.1% of draws at 0.3
    assert not torch.equal(noise[:, 0], noise[:, 1])                     # fresh noise every frame
    mask = aug.masks(aug._params, 64, 64, "cutmix")                     # (B, T, H, W)
    assert torch.equal(out[:, 0], mask * noise)                         # X_P = M * noise + (1 - M) * 0
    assert torch.equal(aug(clips, params=dict(aug._params)), out)       # replay from the saved draw


def test_noise_patch_anomaly_and_sigma_rule():
    anomaly = PatchAnomaly(1.0, "smoothmix_s", alpha=0.5, beta=3, intruder={"source": "noise", "sigma": 0.5},
                           name="noise")
    assert anomaly.name == "noise"
    clips = torch.zeros(3, 1, 16, 32, 32)
    inputs, targets = anomaly(clips, {}, torch.tensor([0, 2]))
    assert torch.equal(targets, clips[[0, 2]]) and (inputs != 0).any()
    for sigma in (0, -1, "x"):
        with pytest.raises(ConfigError, match=r"anomaly\.intruder\.sigma="):
            NoiseBank(sigma)


def test_all_types_combine_through_the_switch():
    torch.manual_seed(0)
    kinds = [ReverseClip(0.2), RepeatFrames(0.2), ShuffleClip(0.2),
             PatchAnomaly(0.2, intruder={"source": "noise"}, name="noise")]
    assert all(isinstance(k, PseudoAnomaly) for k in kinds)
    module = LNTAModule(ConvAE3D(width=0.125), kinds)
    clip = torch.randint(0, 256, (200, 1, 16, 16, 16), dtype=torch.uint8)
    inputs, targets, types = module.make_inputs({"clip": clip})
    normal = clip.float() / 127.5 - 1
    assert torch.equal(targets, normal)
    assert set(types.tolist()) == {-1, 0, 1, 2, 3}
    assert torch.equal(inputs[types == 0], normal[types == 0].flip(2))
    assert torch.equal(inputs[types == -1], normal[types == -1])


def test_gallery_rows_of_the_new_types():
    from lnta.callbacks.gallery import pseudo_examples
    torch.manual_seed(0)
    batch = {"clip": torch.randint(0, 256, (2, 1, 16, 32, 32), dtype=torch.uint8)}
    kinds = [ReverseClip(1.0), RepeatFrames(1.0, [4]), ShuffleClip(1.0),
             PatchAnomaly(1.0, intruder={"source": "noise"}, name="noise")]
    rows = pseudo_examples(kinds, batch, sample=1)
    assert [label for label, _ in rows] == ["normal", "reverse", "repeat", "shuffle", "noise"]
    normal = torch.from_numpy(rows[0][1])
    assert torch.equal(torch.from_numpy(rows[1][1]), normal.flip(0))
    assert torch.equal(torch.from_numpy(rows[2][1]), normal[torch.arange(16) // 4])
    assert all(row.shape == (16, 32, 32) for _, row in rows)

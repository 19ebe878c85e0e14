"""The reference scoring protocol on hand-made cases."""
import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from lnta.metrics.protocol import (frame_level_metrics, frame_psnr, minmax_anomaly_scores, psnr_from_mse,
                          roc_auc, roc_curve)


def test_psnr_peak_one():
    assert psnr_from_mse(torch.tensor([1.0, 0.1, 0.01])).tolist() == pytest.approx([0, 10, 20])


def test_frame_psnr_uses_only_the_scored_frame():
    target = torch.zeros(2, 1, 16, 4, 4)
    recon = target.clone()
    recon[:, :, 8] = 0.1      # error only on frame 8: mse 0.01 -> 20 dB
    recon[:, :, 3] = 0.9      # ignored
    assert frame_psnr(recon, target, 8).tolist() == pytest.approx([20, 20])


def test_minmax_per_video():
    psnr = np.array([30, 20, 25, 10, 12, 11.0])
    videos = np.array([0, 0, 0, 1, 1, 1])
    assert minmax_anomaly_scores(psnr, videos).tolist() == pytest.approx([0, 1, 0.5, 1, 0, 0.5])


def test_minmax_constant_video_scores_zero():
    assert minmax_anomaly_scores(np.array([5.0, 5.0]), np.array([0, 0])).tolist() == [0, 0]


def test_auc_equals_direct_pair_count_and_torchmetrics():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(300), 2)  # with ties
    labels = rng.random(300) < 0.3
    pos, neg = scores[labels], scores[~labels]
    direct = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(direct, abs=1e-12)
    tm = binary_auroc(torch.tensor(scores), torch.tensor(labels).long())
    assert roc_auc(scores, labels) == pytest.approx(tm.item(), abs=1e-6)


def test_roc_curve_area_matches_auc():
    rng = np.random.default_rng(1)
    scores, labels = rng.random(500), rng.random(500) < 0.4
    fpr, tpr = roc_curve(scores, labels)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # the trapezoid rule by hand: numpy 1.x lacks trapezoid
    assert area == pytest.approx(roc_auc(scores, labels), abs=1e-9)


def test_hand_made_protocol_case():
    # two videos of different brightness: video 0 reconstructs everything better, so its anomaly (35 dB)
    # has a higher PSNR than video 1's normal frames (30, 31 dB). Only a per-video min-max ranks both
    # anomalies first (micro AUC 1); one over all frames gives 6/8 = 0.75 (35 beats neither 30 nor 31),
    # an uninverted one 0.
    psnr = np.array([40, 41, 35, 30, 31, 25.0])
    labels = np.array([0, 0, 1, 0, 0, 1])
    videos = np.array([0, 0, 0, 1, 1, 1])
    scores = minmax_anomaly_scores(psnr, videos)
    assert scores.tolist() == pytest.approx([1 / 6, 0, 1, 1 / 6, 0, 1])   # 1 - (P - min) / (max - min), per video
    m = frame_level_metrics(scores, labels, videos)
    assert m["auc_micro"] == 1.0 and m["auc_macro"] == 1.0 and m["auc_macro_videos"] == 2
    global_minmax = minmax_anomaly_scores(psnr, np.zeros(6, int))
    assert frame_level_metrics(global_minmax, labels, videos)["auc_micro"] == 0.75   # what the test tells apart


def test_macro_skips_single_class_videos():
    scores = np.array([0.1, 0.9, 0.5, 0.6])
    labels = np.array([0, 1, 0, 0])
    videos = np.array([0, 0, 1, 1])
    m = frame_level_metrics(scores, labels, videos, ["Test001", "Test002"])
    assert m["auc_macro_videos"] == 1 and m["auc_macro"] == 1.0
    assert m["auc_per_video"]["Test001"] == 1.0 and np.isnan(m["auc_per_video"]["Test002"])  # keyed by name

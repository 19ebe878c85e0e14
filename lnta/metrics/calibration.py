"""A score that means something without the whole video: PSNR calibrated on normal training clips.

The reference min-max needs a whole test video and puts an "anomaly" in every video. The
calibrated score compares each frame's PSNR with the PSNRs of normal clips measured at the end
of training: ``z = (mean - psnr) / std`` (higher = more anomalous), thresholded either at a
fixed ``z`` or at the quantile of the normal scores that gives a chosen false-alarm rate.
"""
from __future__ import annotations

import numpy as np
import torch

from lnta.data.transforms import to_unit
from lnta.data.sampling import ClipIndex, normal_clip, runs
from lnta.data.io.store import FrameStore
from lnta.errors import ConfigError
from lnta.metrics.protocol import frame_level_metrics, score_clips


#: Where the statistics live in a checkpoint (plain floats and lists: loadable with weights_only).
CALIBRATION_KEY = "lnta_calibration"
#: The false-alarm rate on normal calibration frames that sets the default threshold.
DEFAULT_FALSE_ALARM_RATE = 0.01


def calibration_stats(psnr: np.ndarray, source: str) -> dict:
    """Mean, std and the sorted PSNRs of normal frames, as plain Python values."""
    psnr = np.sort(np.asarray(psnr, np.float64))
    return {"mean": float(psnr.mean()), "std": float(max(psnr.std(), 1e-6)), "n": int(len(psnr)),
            "psnr": psnr.tolist(), "source": source}


def calibrated_scores(psnr: np.ndarray, stats: dict) -> np.ndarray:
    """``(mean - psnr) / std`` of the normal PSNRs: 0 is a typical normal frame, higher is worse."""
    return (stats["mean"] - np.asarray(psnr, np.float64)) / stats["std"]


def threshold_for(stats: dict, threshold: float | None = None, false_alarm_rate: float | None = None) -> float:
    """The calibrated-score threshold: ``threshold`` itself, or the normal scores' ``1 - rate`` quantile."""
    if threshold is not None:
        return float(threshold)
    if false_alarm_rate is None or not 0 < false_alarm_rate < 1:
        raise ConfigError(f"false_alarm_rate={false_alarm_rate}: expected a rate in (0, 1) or a threshold")
    normal = calibrated_scores(np.asarray(stats["psnr"]), stats)
    return float(np.quantile(normal, 1.0 - false_alarm_rate, method="higher"))


def flagged_intervals(frames: np.ndarray, flagged: np.ndarray) -> list[list[int]]:
    """Runs of consecutive flagged entries as inclusive ``[first_frame, last_frame]`` pairs."""
    return [[int(frames[a]), int(frames[b - 1])] for a, b in runs(flagged)]


def calibrated_metrics(psnr: np.ndarray, labels: np.ndarray, videos: np.ndarray, stats: dict,
                       false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE, names: list[str] | None = None) -> dict:
    """AUCs of the calibrated score, and what its threshold flags on labelled test frames."""
    scores = calibrated_scores(psnr, stats)
    threshold = threshold_for(stats, false_alarm_rate=false_alarm_rate)
    labels = np.asarray(labels).astype(bool)
    flagged = scores > threshold
    auc = frame_level_metrics(scores, labels, videos, names)
    return {"score": "z = (mean - psnr) / std of normal training PSNRs; no per-video normalisation",
            "auc_micro": auc["auc_micro"], "auc_macro": auc["auc_macro"], "threshold": threshold,
            "target_false_alarm_rate": false_alarm_rate,
            "false_alarm_rate": float(flagged[~labels].mean()) if (~labels).any() else float("nan"),
            "detection_rate": float(flagged[labels].mean()) if labels.any() else float("nan"),
            "normal_psnr_mean": stats["mean"], "normal_psnr_std": stats["std"], "source": stats["source"]}


def sample_clips(store: FrameStore, clip_len: int, max_clips: int, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``max_clips`` (video, start) pairs drawn uniformly without replacement from all clips
    of ``store`` (its :class:`~lnta.data.sampling.ClipIndex`), in index order."""
    index = ClipIndex(store.lengths, clip_len)
    pick = index.sample(max_clips, seed)
    return list(zip(index.videos[pick].tolist(), index.starts[pick].tolist()))


@torch.no_grad()
def normal_psnrs(forward, store: FrameStore, pairs, clip_len: int, center: int,
                 batch_size: int, device: torch.device) -> np.ndarray:
    """PSNR of the scored frame of each (video, start) clip of ``store`` (:func:`~lnta.metrics.protocol.score_clips`,
    the step testing uses), reconstructed by ``forward`` (a model in eval mode, or its inference forward)."""
    out = []
    for i in range(0, len(pairs), batch_size):
        clips = np.stack([store.gather(v, normal_clip(s, clip_len, store.lengths[v]))
                          for v, s in pairs[i:i + batch_size]])
        x = to_unit(torch.from_numpy(clips).unsqueeze(1).to(device))
        out.append(score_clips(forward, x, center)["psnr"].float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def calibrate(forward, store: FrameStore, clip_len: int, center: int, max_clips: int = 512,
              batch_size: int = 16, device="cpu", seed: int = 0, what: str = "training clips",
              held_out: bool = False) -> dict:
    """Calibration statistics of ``forward`` (a model in eval mode, or its inference forward, under the caller's
    autocast) on up to ``max_clips`` clips of ``store``, sampled by ``seed``.

    ``what`` names those clips in the statistics' ``source`` (``"<n> <what>"``); ``held_out``: they were not
    trained on (recorded as ``held_out: true``, which ``lnta.score`` reports as held-out normal footage)."""
    pairs = sample_clips(store, clip_len, max_clips, seed)
    psnr = normal_psnrs(forward, store, pairs, clip_len, center, batch_size, device)
    stats = calibration_stats(psnr, f"{len(psnr)} {what}")
    if held_out:
        stats["held_out"] = True
    return stats

"""Metrics computed here, independently of the scoring pipeline, to check a real model's numbers
against (issue 23, item 14): a test that only checks an AUC to lie in [0, 1] cannot fail."""
from __future__ import annotations

import numpy as np
import torch


def pair_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC as the share of (positive, negative) pairs ranked right, ties counting half."""
    scores, labels = np.asarray(scores), np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    return float(((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()) / (len(pos) * len(neg)))


def sampled_error_maps(ckpt_path, masks: dict[str, np.ndarray], size: tuple[int, int], stride: int):
    """The documented pixel rule, computed here: the checkpoint's AE (fp32, eager) on every test clip of
    its stored data config, the scored frame's squared error (mean over channels) resized bilinearly to
    the mask ``size``, read every ``stride``-th row and column in float16; and the masks (by video name)
    at each clip's own video and frame on the same grid. Returns ``(errors, labels, videos, frames)``."""
    import hydra
    import torch.nn.functional as F

    from lnta.trainer.build import module_from_checkpoint
    from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint

    checkpoint = load_checkpoint(ckpt_path)
    module = module_from_checkpoint(checkpoint).eval()
    data = hydra.utils.instantiate(checkpoint[CONFIG_KEY]["data"])
    data.setup("test")
    names = data.test_set.store.names
    errors, labels, videos, frames = [], [], [], []
    with torch.no_grad():
        for batch in data.test_dataloader():
            clips, center = batch["clip"].float() / 127.5 - 1, module.center
            error = (module.model(clips)[:, :, center] - clips[:, :, center]).pow(2).mean(1)
            error = F.interpolate(error[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            errors.append(error[:, ::stride, ::stride].half().float().numpy())
            for v, f in zip(batch["video"].tolist(), batch["frame"].tolist()):
                labels.append(masks[names[v]][f, ::stride, ::stride])
                videos.append(v)
                frames.append(f)
    return np.concatenate(errors), np.stack(labels), np.array(videos), np.array(frames)


def frame_aucs(scores_csv) -> tuple[float, float]:
    """Micro and macro frame-level AUC of a run's ``scores.csv`` (its ``score`` and ``label`` columns):
    over all frames, and the mean over the videos that hold both classes. ``scores.csv`` holds the
    scores rounded to 6 decimals, so compare with a tolerance of about 1e-3 (a tie that rounding makes
    moves an AUC of a few dozen frames by 0.5 / (positives x negatives))."""
    import csv

    with open(scores_csv) as f:
        rows = list(csv.DictReader(f))
    scores = np.array([float(r["score"]) for r in rows])
    labels = np.array([r["label"] == "1" for r in rows])
    videos = np.array([r["video"] for r in rows])
    per_video = [pair_auc(scores[videos == v], labels[videos == v]) for v in dict.fromkeys(videos)
                 if 0 < labels[videos == v].sum() < (videos == v).sum()]
    return pair_auc(scores, labels), float(np.mean(per_video))

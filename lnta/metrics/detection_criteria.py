"""Region- and track-based detection criteria (RBDC, TBDC) as pure functions (beyond the paper).

Source: B. Ramachandra and M. Jones, "Street Scene: A new dataset and evaluation protocol for video
anomaly detection", WACV 2020 (arXiv:1902.05872), section on the evaluation criteria. Written from the
paper's definitions; no code of the public reference implementation is used.

Definitions, over the N evaluated frames (every scored test frame, all videos):

- **Detections**: in each frame, the connected regions (8-connectivity) of ``error >= threshold``;
  a region's score is the mean error over its pixels.
- **Ground-truth regions**: the connected regions (8-connectivity) of each frame's bool mask.
- **IoU** of a detection d and a ground-truth region g of the same frame: ``|d ∩ g| / |d ∪ g|`` in pixels.
- At a score threshold τ the kept detections are those with score >= τ.
- A ground-truth region is **detected** at τ when a kept detection of its frame has IoU >= β with it
  (β = 0.1, :data:`REGION_IOU`). A kept detection is a **false positive** when its IoU with every
  ground-truth region of its frame is < β. ``FPR(τ)`` = false-positive regions / N (per frame).
- ``RDR(τ)`` = detected ground-truth regions / all ground-truth regions.
- **Ground-truth tracks**: the regions of two consecutive frames (frame f and f + 1 of one video, both
  evaluated) are matched one to one by the largest total IoU (Hungarian assignment); a matched pair
  whose IoU >= :data:`LINK_IOU` (0.1, and > 0) continues one track, every other region starts a new
  track. Our choice, since Ped2's masks carry no track ids (Street Scene's do): at video frame rates an
  object's masks in consecutive frames overlap far above 0.1, while touching but distinct objects with a
  sliver of overlap are not chained; a frame without the object (a gap) ends its track.
- A track is **detected** at τ when at least a fraction α of its regions are detected at τ (α = 0.1,
  :data:`TRACK_COVERAGE`; a track of n regions needs ``ceil(α n)`` of them). ``TDR(τ)`` = detected
  tracks / all tracks.
- **Curves**: the points ``(FPR(τ), RDR(τ))`` for τ running down the distinct detection scores,
  starting at (0, 0) (τ above every score), joined linearly (as an ROC curve, so tied scores give a
  diagonal segment) and continued flat at the last rate beyond the largest FPR reached (no detection
  is left to add). **RBDC** = ``(1 / F) ∫_0^F RDR d FPR`` with F = 1 false positive per frame
  (:data:`MAX_FPR`), so a detector that finds every region before its first false positive scores 1.
  **TBDC** is the same with ``TDR``. Both lie in [0, 1]; NaN where there is no ground-truth region.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

REGION_IOU = 0.1       #: β: IoU for a detection to hit a ground-truth region (the paper's value)
TRACK_COVERAGE = 0.1   #: α: fraction of a track's regions that must be hit (the paper's value)
MAX_FPR = 1.0          #: upper limit of the integral, false-positive regions per frame (the paper's)
LINK_IOU = 0.1         #: IoU that links ground-truth regions of consecutive frames into a track (ours)
_EIGHT = np.ones((3, 3), dtype=bool)

RULE = ("Ramachandra & Jones (WACV 2020): detections = 8-connected regions of error >= {threshold:.6g} "
        "(the {quantile} quantile of the sampled error pixels) scored by mean error, on the 1-in-{stride} pixel "
        "grid; region hit IoU >= 0.1, track hit >= 10% of its regions, tracks linked by IoU >= 0.1 "
        "between consecutive frames; area under detection rate vs false positives per frame, 0 to 1")


def connected_regions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected regions of a (H, W) bool mask: (labels (H, W) int32, 0 = background, 1..n; n)."""
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=_EIGHT)
    return labels.astype(np.int32, copy=False), int(n)


def frame_detections(error: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Detections of one (H, W) error map: (labels (H, W) int32 as :func:`connected_regions`,
    scores (n,) float64 = the mean error of each region ``error >= threshold``)."""
    error = np.asarray(error, dtype=np.float64)
    labels, n = connected_regions(error >= threshold)
    scores = np.asarray(ndimage.mean(error, labels, np.arange(1, n + 1)), dtype=np.float64) if n else np.zeros(0)
    return labels, scores


def region_iou(a: np.ndarray, n_a: int, b: np.ndarray, n_b: int) -> np.ndarray:
    """IoU between every region of label image ``a`` (1..n_a) and of ``b`` (1..n_b), same (H, W): (n_a, n_b)."""
    joint = np.bincount(a.ravel().astype(np.int64) * (n_b + 1) + b.ravel(),
                        minlength=(n_a + 1) * (n_b + 1)).reshape(n_a + 1, n_b + 1)
    inter = joint[1:, 1:].astype(np.float64)
    union = joint[1:, :].sum(1)[:, None] + joint[:, 1:].sum(0)[None, :] - inter
    return inter / np.maximum(union, 1)


def _continue_tracks(prev: np.ndarray | None, prev_n: int, prev_ids: np.ndarray, labels: np.ndarray, n: int,
                     n_tracks: int, link_iou: float) -> tuple[np.ndarray, int]:
    """Track ids of a frame's ``n`` regions given the previous consecutive frame (``prev`` None: none)."""
    ids = np.full(n, -1, dtype=np.int64)
    if prev is not None and n and prev_n:
        iou = region_iou(prev, prev_n, labels, n)
        rows, cols = linear_sum_assignment(iou, maximize=True)
        keep = (iou[rows, cols] >= link_iou) & (iou[rows, cols] > 0)
        ids[cols[keep]] = prev_ids[rows[keep]]
    new = ids < 0
    ids[new] = np.arange(n_tracks, n_tracks + new.sum())
    return ids, n_tracks + int(new.sum())


def link_tracks(gt_labels: Sequence[np.ndarray], n_regions: Sequence[int], videos: np.ndarray, frames: np.ndarray,
                link_iou: float = LINK_IOU) -> tuple[list[np.ndarray], int]:
    """Track id of every ground-truth region (module docstring), frames sorted by (video, frame).

    Returns (per frame an int64 array of ``n_regions[i]`` track ids, the number of tracks).
    """
    tracks: list[np.ndarray] = []
    n_tracks = 0
    for i, (labels, n) in enumerate(zip(gt_labels, n_regions)):
        linked = i and videos[i] == videos[i - 1] and frames[i] == frames[i - 1] + 1
        ids, n_tracks = _continue_tracks(gt_labels[i - 1] if linked else None, n_regions[i - 1] if linked else 0,
                                         tracks[-1] if linked else np.zeros(0, np.int64), labels, n, n_tracks,
                                         link_iou)
        tracks.append(ids)
    return tracks, n_tracks


def required_hits(n: int, coverage: float = TRACK_COVERAGE) -> int:
    """Regions of an n-region track that must be hit: the least k >= 1 with k / n >= coverage (exact)."""
    need = Fraction(coverage).limit_denominator(10**6) * n
    return max(1, -(-need.numerator // need.denominator))


def area_under_fpr(fpr: np.ndarray, rate: np.ndarray, max_fpr: float = MAX_FPR) -> float:
    """``(1 / max_fpr) ∫_0^max_fpr rate d fpr`` of the polyline through (fpr[i], rate[i]) (fpr non-decreasing,
    starting at 0), linear between points, flat at ``rate[-1]`` beyond ``fpr[-1]``."""
    x = np.append(np.asarray(fpr, np.float64), max(max_fpr, float(fpr[-1])))
    y = np.append(np.asarray(rate, np.float64), float(rate[-1]))
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    end = np.minimum(x1, max_fpr)
    width = np.clip(end - x0, 0.0, None)
    slope = np.divide(y1 - y0, x1 - x0, out=np.zeros_like(y0), where=x1 > x0)
    y_end = np.where(x1 > x0, y0 + slope * (end - x0), y1)
    return float(np.sum(width * (y0 + y_end) / 2) / max_fpr)


@dataclass(frozen=True)
class DetectionCriteria:
    """RBDC/TBDC and their curves. ``thresholds`` (K,) run down the distinct detection scores; ``fpr``,
    ``region_rate``, ``track_rate`` (K + 1,) start with the point (0, 0) of a threshold above every score."""

    rbdc: float
    tbdc: float
    thresholds: np.ndarray
    fpr: np.ndarray
    region_rate: np.ndarray
    track_rate: np.ndarray
    n_frames: int
    n_regions: int
    n_tracks: int
    n_detections: int

    def rate_at(self, fpr: float) -> tuple[float, float]:
        """(region rate, track rate) at the last curve point with FPR <= ``fpr``."""
        i = int(np.searchsorted(self.fpr, fpr, side="right")) - 1
        return float(self.region_rate[i]), float(self.track_rate[i])


def _count_at_least(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    return len(ordered) - np.searchsorted(ordered, thresholds, side="left")


def detection_criteria(det_labels: Sequence[np.ndarray], det_scores: Sequence[np.ndarray],
                       gt_masks: Sequence[np.ndarray], videos: np.ndarray, frames: np.ndarray,
                       **options) -> DetectionCriteria:
    """RBDC and TBDC (module docstring) of given detections.

    ``det_labels[i]`` (H, W) int labels 0..n_i and ``det_scores[i]`` (n_i,) finite scores are frame i's
    detections; ``gt_masks[i]`` (H, W) bool its ground truth; ``videos``/``frames`` (N,) its video id and
    frame index (any order; tracks link frame f to f + 1 of the same video). ``options``: ``region_iou_min``
    (β), ``track_coverage`` (α), ``max_fpr``, ``link_iou``. Raises ValueError on mismatched lengths or
    shapes, or non-finite scores.
    """
    if not (len(det_labels) == len(det_scores) == len(videos) == len(frames) == len(gt_masks)):
        raise ValueError(f"detection_criteria: {len(det_labels)} label maps, {len(det_scores)} score lists, "
                         f"{len(videos)} video ids, {len(frames)} frame ids for {len(gt_masks)} masks")
    return _criteria(lambda i: (np.asarray(det_labels[i]), np.asarray(det_scores[i], dtype=np.float64)),
                     lambda i: gt_masks[i], np.asarray(videos), np.asarray(frames), **options)


def _criteria(detections_of, mask_of, videos: np.ndarray, frames: np.ndarray, region_iou_min: float = REGION_IOU,
              track_coverage: float = TRACK_COVERAGE, max_fpr: float = MAX_FPR,
              link_iou: float = LINK_IOU) -> DetectionCriteria:
    """One pass over the frames in (video, frame) order; a frame's detections and regions are built when
    it is reached (``detections_of(i)``, ``mask_of(i)``) and dropped after the next frame, so memory stays
    that of two frames besides the per-region scores."""
    n = len(videos)
    if n == 0:
        raise ValueError("detection_criteria: no frames")
    fp_scores, hit_scores, track_ids, scores_all = [], [], [], []
    prev, prev_n, prev_ids, n_tracks = None, 0, np.zeros(0, np.int64), 0
    order = np.lexsort((frames, videos))
    for k, i in enumerate(order):
        gt_labels, n_gt = connected_regions(mask_of(i))
        linked = k and videos[i] == videos[order[k - 1]] and frames[i] == frames[order[k - 1]] + 1
        prev_ids, n_tracks = _continue_tracks(prev if linked else None, prev_n, prev_ids, gt_labels, n_gt,
                                              n_tracks, link_iou)
        prev, prev_n = gt_labels, n_gt
        labels, scores = detections_of(i)
        if labels.shape != gt_labels.shape or len(scores) != int(labels.max(initial=0)):
            raise ValueError(f"detection_criteria: frame {i}: labels {labels.shape} with max "
                             f"{int(labels.max(initial=0))} vs mask {gt_labels.shape} and {len(scores)} scores")
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"detection_criteria: frame {i}: non-finite detection scores")
        hit = region_iou(labels, len(scores), gt_labels, n_gt) >= region_iou_min  # (detections, regions)
        fp_scores.append(scores[~hit.any(1)])
        hit_scores.append(np.where(hit, scores[:, None], -np.inf).max(0, initial=-np.inf))
        track_ids.append(prev_ids)
        scores_all.append(scores)
    hit_scores_flat, track_ids_flat = np.concatenate(hit_scores), np.concatenate(track_ids)
    track_scores = np.full(n_tracks, -np.inf)
    for t in range(n_tracks):  # the k-th best hit score: the lowest threshold at which k regions are hit
        best = np.sort(hit_scores_flat[track_ids_flat == t])[::-1]
        track_scores[t] = best[required_hits(len(best), track_coverage) - 1]
    thresholds = np.unique(np.concatenate(scores_all))[::-1]
    fpr = np.concatenate([[0.0], _count_at_least(np.concatenate(fp_scores), thresholds) / n])
    n_regions = len(hit_scores_flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        region_rate = np.concatenate([[0.0], _count_at_least(hit_scores_flat, thresholds) / n_regions])
        track_rate = np.concatenate([[0.0], _count_at_least(track_scores, thresholds) / n_tracks])
    rbdc = area_under_fpr(fpr, region_rate, max_fpr) if n_regions else float("nan")
    tbdc = area_under_fpr(fpr, track_rate, max_fpr) if n_tracks else float("nan")
    return DetectionCriteria(rbdc, tbdc, thresholds, fpr, region_rate, track_rate, n, n_regions, n_tracks,
                             int(sum(len(s) for s in scores_all)))


def criteria_from_error_maps(errors: np.ndarray, masks: np.ndarray, videos: np.ndarray, frames: np.ndarray,
                             quantile: float, **options) -> tuple[DetectionCriteria, float]:
    """RBDC/TBDC of (N, H, W) error maps against (N, H, W) bool masks; returns (criteria, threshold).

    The region threshold is the ``quantile`` (in (0, 1)) of all N x H x W error values: detections are the
    connected regions of the top ``1 - quantile`` of error pixels (:func:`frame_detections`), built frame
    by frame. ``options`` as :func:`detection_criteria`.
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"region quantile must be in (0, 1), got {quantile}")
    if not (len(errors) == len(masks) == len(videos) == len(frames)):
        raise ValueError(f"criteria_from_error_maps: {len(errors)} error maps, {len(masks)} masks, "
                         f"{len(videos)} video ids, {len(frames)} frame ids")
    threshold = float(np.quantile(errors, quantile))
    criteria = _criteria(lambda i: frame_detections(errors[i], threshold), lambda i: masks[i],
                         np.asarray(videos), np.asarray(frames), **options)
    return criteria, threshold

"""RBDC / TBDC on hand-made masks and detections with answers worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from lnta.metrics.detection_criteria import (area_under_fpr, criteria_from_error_maps, detection_criteria,
                                             frame_detections, link_tracks, connected_regions, region_iou,
                                             required_hits)

H = W = 32


def box(y: int, x: int, h: int = 10, w: int = 10) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y:y + h, x:x + w] = True
    return mask


def dets(*boxes: tuple[np.ndarray, float]) -> tuple[np.ndarray, np.ndarray]:
    """Label image and scores of non-overlapping detection masks, in the given order."""
    labels = np.zeros((H, W), np.int32)
    for i, (mask, _) in enumerate(boxes, 1):
        assert not labels[mask].any()
        labels[mask] = i
    return labels, np.array([s for _, s in boxes], np.float64)


def run(frames_dets, masks, videos=None, frame_ids=None):
    n = len(masks)
    videos = np.zeros(n, int) if videos is None else np.asarray(videos)
    frame_ids = np.arange(n) if frame_ids is None else np.asarray(frame_ids)
    return detection_criteria([d[0] for d in frames_dets], [d[1] for d in frames_dets], masks, videos, frame_ids)


def test_a_perfect_detector_scores_one():
    # video 0: an object moving 2 px per frame, then a normal frame; video 1: two objects at once
    masks = [box(2, 2 + 2 * t) for t in range(4)] + [np.zeros((H, W), bool)] + [box(2, 2) | box(18, 18)] * 3
    detections = [dets(*[(r, 1.0 + 0.1 * k) for k, r in enumerate(_regions(m))]) for m in masks]
    result = run(detections, masks, videos=[0] * 5 + [1] * 3, frame_ids=list(range(5)) + list(range(3)))
    assert result.rbdc == 1.0 and result.tbdc == 1.0
    assert (result.n_frames, result.n_regions, result.n_tracks, result.n_detections) == (8, 10, 3, 10)
    assert result.fpr.max() == 0.0


def _regions(mask):
    labels, n = connected_regions(mask)
    return [labels == i for i in range(1, n + 1)]


def test_the_same_perfect_detector_from_error_maps():
    masks = np.stack([box(4, 4 + t) | box(20, 18, 6, 6) for t in range(5)])  # ~13% of the pixels
    errors = masks.astype(np.float32) * 2.0 + 0.5
    result, threshold = criteria_from_error_maps(errors, masks, np.zeros(5, int), np.arange(5), quantile=0.9)
    assert threshold == 2.5
    assert (result.rbdc, result.tbdc, result.n_tracks, result.n_regions) == (1.0, 1.0, 2, 10)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\)"):
        criteria_from_error_maps(errors, masks, np.zeros(5, int), np.arange(5), quantile=1.0)


def test_a_shifted_box_hits_at_iou_0_111_and_misses_at_0_053():
    gt = box(10, 10)
    hit, miss = box(10, 18), box(10, 19)  # shifted 8 and 9 columns: overlap 20 and 10 of 100 pixels
    assert region_iou(hit.astype(np.int32), 1, gt.astype(np.int32), 1)[0, 0] == pytest.approx(20 / 180)
    assert region_iou(miss.astype(np.int32), 1, gt.astype(np.int32), 1)[0, 0] == pytest.approx(10 / 190)
    assert run([dets((hit, 1.0))], [gt]).rbdc == 1.0
    missed = run([dets((miss, 1.0))], [gt])
    assert missed.rbdc == 0.0 and missed.tbdc == 0.0 and list(missed.fpr) == [0.0, 1.0]  # the miss is a FP
    # one video, two frames, one static object (one track of two regions): the hit scores 2, the miss 1
    both = run([dets((hit, 2.0)), dets((miss, 1.0))], [gt, gt])
    assert list(both.thresholds) == [2.0, 1.0]
    assert list(both.fpr) == [0.0, 0.0, 0.5] and list(both.region_rate) == [0.0, 0.5, 0.5]
    assert both.rbdc == 0.5  # half of the regions at 0 false positives, nothing more up to 1 per frame
    assert both.tbdc == 1.0  # 1 of 2 regions hit >= 10% of the track


def test_a_missed_track_gives_tbdc_one_half_at_the_false_positive_level_reached_first():
    # track A moves 1 px per frame on the left and is always found (score 0.9); track B sits on the
    # right and is never found; two false positives (score 0.95) come before every true detection
    masks = [box(2, 1 + t, 8, 8) | box(20, 20, 8, 8) for t in range(4)]
    fp = box(24, 1, 6, 6)
    detections = [dets((box(2, 1 + t, 8, 8), 0.9), *([(fp, 0.95)] if t < 2 else [])) for t in range(4)]
    result = run(detections, masks)
    assert result.n_tracks == 2 and result.n_regions == 8
    assert list(result.thresholds) == [0.95, 0.9]
    assert list(result.fpr) == [0.0, 0.5, 0.5]
    assert list(result.track_rate) == [0.0, 0.0, 0.5] and list(result.region_rate) == [0.0, 0.0, 0.5]
    assert result.rate_at(0.5) == (0.5, 0.5) and result.rate_at(0.49) == (0.0, 0.0)
    assert result.tbdc == pytest.approx(0.25) and result.rbdc == pytest.approx(0.25)  # 0.5 from FPR 0.5 to 1


def test_false_positives_only_score_zero_and_are_counted_per_frame():
    masks = [box(2, 2)] * 3 + [np.zeros((H, W), bool)]
    detections = [dets((box(20, 20, 4, 4), 1.0), (box(20, 26, 4, 4), 2.0))] * 2 + [dets()] * 2
    result = run(detections, masks)
    assert result.rbdc == 0.0 and result.tbdc == 0.0
    assert list(result.fpr) == [0.0, 0.5, 1.0]  # 2 then 4 false-positive regions over 4 frames
    nothing = run([dets()] * 4, masks)
    assert nothing.rbdc == 0.0 and nothing.tbdc == 0.0 and nothing.n_detections == 0


def test_empty_ground_truth_is_undefined():
    masks = [np.zeros((H, W), bool)] * 2
    result = run([dets((box(0, 0), 1.0)), dets()], masks)
    assert np.isnan(result.rbdc) and np.isnan(result.tbdc)
    assert (result.n_regions, result.n_tracks) == (0, 0) and list(result.fpr) == [0.0, 0.5]


def test_tied_scores_give_a_diagonal_and_the_integral_stops_at_one_false_positive_per_frame():
    assert area_under_fpr(np.array([0.0, 0.5, 2.0]), np.array([0.0, 0.5, 1.0])) == pytest.approx(5 / 12)
    assert area_under_fpr(np.array([0.0, 0.25]), np.array([0.0, 1.0])) == pytest.approx(0.875)  # flat beyond
    assert area_under_fpr(np.array([0.0, 0.0, 3.0]), np.array([0.0, 0.4, 0.4])) == pytest.approx(0.4)
    # a true and a false detection with the same score in one frame: the segment (0, 0) -> (1, 1)
    tied = run([dets((box(2, 2), 1.0), (box(20, 20, 4, 4), 1.0))], [box(2, 2)])
    assert list(tied.fpr) == [0.0, 1.0] and tied.rbdc == pytest.approx(0.5)


def test_a_track_is_hit_when_at_least_ten_percent_of_its_regions_are():
    assert [required_hits(n) for n in (1, 9, 10, 11, 20, 30, 31)] == [1, 1, 1, 2, 2, 3, 4]
    for n_frames, expected in ((10, 1.0), (11, 0.0)):  # one hit region: 1/10 is enough, 1/11 is not
        masks = [box(2, 2)] * n_frames
        detections = [dets((box(2, 2), 1.0))] + [dets()] * (n_frames - 1)
        result = run(detections, masks)
        assert result.n_tracks == 1 and result.tbdc == expected


def test_tracks_link_overlapping_regions_of_consecutive_frames_of_one_video():
    frames = [box(2, 2), box(2, 4), box(2, 20), box(2, 20), box(2, 20)]
    labels = [connected_regions(m) for m in frames]
    ids, n = link_tracks([l for l, _ in labels], [c for _, c in labels], np.array([0, 0, 0, 0, 1]),
                         np.array([0, 1, 2, 4, 0]))
    # 0-1 overlap (IoU 80/120); 1-2 do not; 2-3 are not consecutive (frame 3 missing); 3-4 change video
    assert [list(i) for i in ids] == [[0], [0], [1], [2], [3]] and n == 4
    sliver = [box(2, 2), box(2, 11)]  # overlap 10 of 190 pixels: IoU 0.053 < 0.1, a new track
    labels = [connected_regions(m) for m in sliver]
    assert link_tracks([l for l, _ in labels], [1, 1], np.zeros(2, int), np.arange(2))[1] == 2
    merge = [box(2, 2, 10, 6) | box(2, 12, 10, 6), box(2, 4, 10, 12)]  # two regions become one: one continues
    labels = [connected_regions(m) for m in merge]
    ids, n = link_tracks([l for l, _ in labels], [2, 1], np.zeros(2, int), np.arange(2))
    assert n == 2 and ids[1][0] in (0, 1)


def test_detections_are_8_connected_regions_scored_by_their_mean_error():
    error = np.zeros((6, 6))
    error[1, 1], error[2, 2] = 3.0, 5.0  # diagonal neighbours: one region
    error[4, 4:6] = [1.0, 2.0]
    labels, scores = frame_detections(error, 1.0)
    assert labels.max() == 2 and list(scores) == [4.0, 1.5]
    assert frame_detections(error, 6.0)[1].size == 0


def test_frame_order_does_not_matter_and_bad_input_is_refused():
    masks = [box(2, 1 + t, 8, 8) | box(20, 20, 8, 8) for t in range(4)]
    detections = [dets((box(2, 1 + t, 8, 8), 0.9 - 0.1 * t), (box(24, 1, 6, 6), 0.5 + 0.1 * t)) for t in range(4)]
    ordered = run(detections, masks)
    perm = [2, 0, 3, 1]
    shuffled = run([detections[i] for i in perm], [masks[i] for i in perm], frame_ids=perm)
    assert (shuffled.rbdc, shuffled.tbdc) == (ordered.rbdc, ordered.tbdc)
    with pytest.raises(ValueError, match="non-finite"):
        run([dets((box(2, 2), float("nan")))], [box(2, 2)])
    with pytest.raises(ValueError, match="2 label maps"):
        run(detections[:2], masks[:1])


@pytest.mark.slow
def test_train_and_eval_report_rbdc_and_tbdc_beside_the_pixel_auc(tmp_path, tiny):
    import json

    from lnta.data.synthetic import SyntheticSpec, generate
    from tests.conftest import run_cli
    from tests.helpers.by_hand import pair_auc, sampled_error_maps

    root = generate(tmp_path / "synthetic", SyntheticSpec(size=32, train_videos=2, test_videos=2, frames_per_video=40))
    labels = np.load(root / "frame_labels_synthetic.npy").ravel().astype(bool)
    masks = np.zeros((80, 24, 36), bool)  # anomalous frames: a box in the right half (mask size != model size)
    masks[labels, 4:16, 20:32] = True
    path = tmp_path / "masks.npz"
    np.savez(path, **{"01": masks[:40], "02": masks[40:]})
    # precision=exact: fp32 on every machine kind, as the maps computed by hand below
    run_cli("lnta.train", *tiny, f"evaluation.pixel_masks={path}", "evaluation.pixel_stride=2", "evaluation.region_quantile=0.95", "precision=exact")
    run_cli("lnta.eval", f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", f"evaluation.pixel_masks={path}",
            "evaluation.pixel_stride=2", "evaluation.region_quantile=0.95", f"hydra.run.dir={tmp_path / 'eval'}",
            "trainer.enable_progress_bar=false", "precision=exact")
    errors, sampled, videos, frames = sampled_error_maps(tmp_path / "run" / "checkpoints" / "last.ckpt",
                                                         {"01": masks[:40], "02": masks[40:]}, (24, 36), 2)
    expected, _ = criteria_from_error_maps(errors, sampled, videos, frames, 0.95)
    assert 0 < expected.rbdc < 1 or 0 < expected.tbdc < 1   # a case that can tell right from wrong
    for run_dir in ("run", "eval"):
        metrics = json.loads((tmp_path / run_dir / "metrics.json").read_text())
        # the pipeline's gathering, mask alignment and threshold reproduce the criteria of the maps by hand
        # (1e-3: another process's float rounding can move a pixel across the threshold)
        assert metrics["rbdc"] == pytest.approx(expected.rbdc, abs=1e-3), metrics
        assert metrics["tbdc"] == pytest.approx(expected.tbdc, abs=1e-3), metrics
        assert metrics["pixel_auc"] == pytest.approx(pair_auc(errors.ravel(), sampled.ravel()), abs=1e-4)
        assert "Ramachandra" in metrics["rbdc_rule"]
        assert metrics["gt_regions"] == int(labels.reshape(2, 40)[:, 8:33].sum())  # scored frames 8..32 of 40
        assert 1 <= metrics["gt_tracks"] <= metrics["gt_regions"]
    with pytest.raises(AssertionError, match="evaluation.region_quantile=1.5: expected a number in"):
        run_cli("lnta.eval", f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", f"evaluation.pixel_masks={path}",
                "evaluation.region_quantile=1.5", f"hydra.run.dir={tmp_path / 'bad'}")


@pytest.mark.slow
@pytest.mark.realdata
def test_ped2_metrics_carry_rbdc_tbdc_and_the_estimated_mechanism(tmp_path):
    import json

    from tests.conftest import run_cli, shared_dataset

    ped2 = shared_dataset("ped2", "testing", "pixel_gt_masks.npz").parents[1]
    # a tiny model trained here (no recorded checkpoint is kept in git): 32x32, width 1/8, two steps
    run_cli("lnta.train", "+experiment=ped2_baseline", f"data.root={ped2}", "data.image_size=32", "data.num_workers=0",
            "model.width=0.125", "trainer.max_steps=2", "inference_compile=false", f"hydra.run.dir={tmp_path}",
            "trainer.enable_progress_bar=false", "evaluation.calibration=null")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_frames_scored"] == 1830 and 0.0 <= metrics["pixel_auc"] <= 1.0
    assert 0.0 <= metrics["rbdc"] <= 1.0 and 0.0 <= metrics["tbdc"] <= 1.0
    assert metrics["gt_regions"] > metrics["gt_tracks"] > 0
    mech = metrics["mechanism"]
    assert mech["foreground_rule"].startswith("estimated") and mech["masks"].endswith("pixel_gt_masks.npz")
    # 12 test videos, all with anomalies and walkers; at 32x32 every scored frame is read whole
    assert set(mech["per_video"]) == {f"{v:02d}" for v in range(1, 13)}
    assert mech["pixels"]["anomaly"] > 0 and mech["pixels"]["foreground"] > mech["pixels"]["anomaly"]
    assert sum(mech["pixels"].values()) <= 1830 * 32 * 32

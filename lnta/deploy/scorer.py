"""``python -m lnta.score ckpt_path=FILE input=PATH``: anomaly scores for unlabelled footage.

Writes ``scores.csv`` (``video,frame,psnr,score,calibrated,flagged``), ``plots/<video>.png``,
``flagged.json`` and, with ``overlay=frames|video``, the error heatmaps. See docs/scoring.md.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from lnta.metrics.calibration import CALIBRATION_KEY, calibrated_scores, flagged_intervals, threshold_for
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint, module_from_checkpoint
from lnta.data.sampling import REFERENCE_CENTER
from lnta.errors import ConfigError
from lnta.io import write_json
from lnta.deploy.overlay import OverlayWriter
from lnta.report.plots import plot_score_timeline
from lnta.metrics.protocol import minmax_anomaly_scores
from lnta.deploy.stream import Source, find_sources, score_frames
from lnta.trainer.precision import apply_speed, precision_of, resolve_device, resolve_speed

log = logging.getLogger("lnta.score")

CSV_COLUMNS = ["video", "frame", "psnr", "score", "calibrated", "flagged"]


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)


class VideoScorer:
    """Scores sources one after another with one model, writing rows as the protocol allows."""

    def __init__(self, cfg: DictConfig, checkpoint: dict, out: Path):
        trained = checkpoint[CONFIG_KEY]["data"]
        self.cfg, self.out = cfg, out
        self.device = resolve_device(cfg.device)
        self.speed = resolve_speed(precision_of(cfg.get("precision"), checkpoint[CONFIG_KEY]), self.device)
        self.model = apply_speed(self.speed, module_from_checkpoint(checkpoint).model.eval().to(self.device))
        self.image_size, self.clip_len = trained["image_size"], trained["clip_len"]
        self.center = trained.get("center", REFERENCE_CENTER)
        self.stats = checkpoint.get(CALIBRATION_KEY)
        self.threshold = None
        if self.stats:
            self.threshold = threshold_for(self.stats, cfg.threshold, cfg.false_alarm_rate)
        elif cfg.threshold is not None:
            raise ConfigError(f"threshold={cfg.threshold}: ckpt_path={cfg.ckpt_path} has no calibration "
                              "statistics (trained before them, or converted without calibrate=true)")

    def score(self, source: Source, writer) -> dict:
        """Score one source; returns its summary for flagged.json."""
        count, fps = source.info()
        overlay = (OverlayWriter(self.out / "overlay", source.name, self.cfg.overlay, fps, self.cfg.heatmap_max)
                   if self.cfg.overlay else None)
        frames, psnr, flagged_rows = [], [], []
        results = score_frames(self.model, source.frames(), image_size=self.image_size, clip_len=self.clip_len,
                               center=self.center, edges=self.cfg.edges, batch_size=self.cfg.batch_size,
                               device=self.device, maps=overlay is not None, speed=self.speed)
        bar = tqdm(total=count, unit="frame", desc=source.name, disable=not self.cfg.progress, dynamic_ncols=True)
        try:
            for r in results:
                frames.append(r.frame)
                psnr.append(r.psnr)
                z = float(calibrated_scores(r.psnr, self.stats)) if self.stats else None
                flag = int(z > self.threshold) if z is not None else None
                flagged_rows.append(flag)
                if self.cfg.stream:  # rows leave as soon as they are computed; min-max needs the whole video
                    writer.writerow([source.name, r.frame, _fmt(r.psnr), "", _fmt(z), _fmt(flag)])
                if overlay:
                    overlay.write(r.frame, r.image, r.error)
                bar.update(1)
        except KeyboardInterrupt:
            log.warning("%s: interrupted after %d frames; writing what was scored", source.name, len(frames))
        finally:
            bar.close()
            if overlay:
                overlay.close()
        return self._finish(source, writer, np.array(frames), np.array(psnr), flagged_rows, fps)

    def _finish(self, source, writer, frames, psnr, flagged, fps) -> dict:
        if len(frames) == 0:
            log.warning("%s: no frame scored (fewer than %d frames with edges=drop?)", source.name, self.clip_len)
            return {"frames_scored": 0, "intervals": []}
        minmax = minmax_anomaly_scores(psnr, np.zeros(len(psnr), np.int64))
        z = calibrated_scores(psnr, self.stats) if self.stats else None
        if not self.cfg.stream:
            for i, f in enumerate(frames):
                writer.writerow([source.name, int(f), _fmt(float(psnr[i])), _fmt(float(minmax[i])),
                                 _fmt(None if z is None else float(z[i])), _fmt(flagged[i])])
        intervals = flagged_intervals(frames, np.array(flagged, dtype=np.int8)) if z is not None else []
        plot_score_timeline(self.out / "plots" / f"{source.name}.png", source.name, frames, minmax,
                            z, self.threshold, intervals)
        summary = {"frames_scored": int(len(frames)), "first_frame": int(frames[0]), "last_frame": int(frames[-1]),
                   "intervals": intervals, "fps": fps,
                   "flagged_frames": int(np.sum(flagged)) if z is not None else None}
        if fps:
            summary["intervals_seconds"] = [[round(a / fps, 3), round((b + 1) / fps, 3)] for a, b in intervals]
        if z is not None:
            log.info("%s: %d of %d frames flagged in %d intervals %s", source.name, summary["flagged_frames"],
                     len(frames), len(intervals), intervals)
        return summary


def score(cfg: DictConfig) -> dict:
    """Score every video that ``cfg.input`` names with ``cfg.ckpt_path``; returns flagged.json's content."""
    out = Path(cfg.paths.output_dir)
    checkpoint = load_checkpoint(cfg.ckpt_path)
    sources = find_sources(str(cfg.input), cfg.input_format)
    scorer = VideoScorer(cfg, checkpoint, out)
    log.info("scoring %d video(s) on %s, edges=%s, precision=%s (%s)", len(sources), scorer.device, cfg.edges,
             scorer.speed.precision, scorer.speed.trainer_precision)
    report = {"ckpt_path": str(Path(cfg.ckpt_path).resolve()), "edges": cfg.edges, "threshold": scorer.threshold,
              "precision": scorer.speed.precision, "trainer_precision": scorer.speed.trainer_precision,
              "calibration": scorer.stats and {k: v for k, v in scorer.stats.items() if k != "psnr"}, "videos": {}}
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "scores.csv", "w", newline="", buffering=1) as f:  # line-buffered: readable while streaming
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for source in sources:
            report["videos"][source.name] = scorer.score(source, writer)
    write_json(out / "flagged.json", report)
    log.info("wrote %s", out)
    return report

"""``python -m lnta.score ckpt_path=FILE input=PATH``: anomaly scores for unlabelled footage.

Writes ``scores.csv`` (``video,frame,psnr,score,calibrated,flagged``), ``plots/<video>.png``,
``flagged.json`` and, with ``overlay=frames|video``, the error heatmaps. See docs/scoring.md.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from lnta.metrics.calibration import (CALIBRATION_KEY, calibrated_scores, calibration_stats, flagged_intervals,
                                      threshold_for)
from lnta.trainer.build import module_from_checkpoint, scored_frame
from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint
from lnta.metrics.protocol import check_finite_psnr
from lnta.errors import ConfigError, DataError
from lnta.io import atomic_path, staged_outputs, write_json
from lnta.deploy.overlay import KeepFrames, OverlayWriter
from lnta.reporting.plots import plot_score_timeline
from lnta.metrics.protocol import minmax_anomaly_scores
from lnta.deploy.stream import Source, find_sources, score_frames
from lnta.trainer.compiled import compiled_last
from lnta.trainer.precision import inference_compile_of, precision_of, resolve_device, resolve_speed
from lnta.text import counted

log = logging.getLogger("lnta.score")
calibrate_log = logging.getLogger("lnta.calibrate")  # recalibrate's lines, under its command's name

CSV_COLUMNS = ["video", "frame", "psnr", "score", "calibrated", "flagged"]
RUNTIMES = ("pytorch", "openvino")


def runtime_of(cfg: DictConfig) -> str:
    """``runtime``: pytorch (``ckpt_path`` a checkpoint) or openvino (``ckpt_path`` the .xml IR of
    ``lnta.export format=openvino``); a one-line error for anything else or for an IR given to pytorch."""
    runtime = str(cfg.get("runtime") or "pytorch")
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime={runtime}: expected pytorch or openvino")
    if runtime == "pytorch" and str(cfg.ckpt_path).endswith(".xml"):
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: an OpenVINO IR: lnta.score reads it with "
                          "runtime=openvino (lnta.calibrate needs the checkpoint)")
    return runtime


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)


class VideoScorer:
    """Scores sources one after another with one model, writing rows as the protocol allows."""

    def __init__(self, cfg: DictConfig, checkpoint: dict | None, out: Path):
        """``checkpoint``: the loaded ``ckpt_path`` (``runtime=pytorch``); None with ``runtime=openvino``, where
        ``ckpt_path`` is the IR and its metadata supplies geometry and calibration. The runtime supplies only the
        reconstruct callable (``self.forward``); everything after it is the one scoring path."""
        self.cfg, self.out = cfg, out
        self.runtime = runtime_of(cfg)
        if self.runtime == "openvino":
            from lnta.deploy.openvino import load_openvino

            if str(cfg.get("device", "auto")) not in ("auto", "cpu"):
                raise ConfigError(f"device={cfg.device}: runtime=openvino runs on the CPU (device=cpu or auto)")
            self.device, self.speed = torch.device("cpu"), None  # fp32 tensors in and out; OpenVINO sets its precision
            self.forward, trained, used = load_openvino(cfg.ckpt_path, cfg.get("precision"))
            self.precision = {"precision": cfg.get("precision") or "exact", "inference_precision": used}
            self.stats = trained.get("calibration")
        else:
            trained_run = checkpoint[CONFIG_KEY]
            trained = trained_run["data"]
            self.device = resolve_device(cfg.device)
            self.speed = resolve_speed(precision_of(cfg.get("precision"), trained_run), self.device,
                                       inference_compile=inference_compile_of(cfg.get("inference_compile"), trained_run),
                                       image_size=trained["image_size"])
            module = module_from_checkpoint(checkpoint, scored_frame(trained), speed=self.speed).eval().to(self.device)
            self.forward = module.reconstructor
            self.precision = {"precision": self.speed.precision, "trainer_precision": self.speed.trainer_precision}
            self.stats = checkpoint.get(CALIBRATION_KEY)
        self.image_size, self.clip_len, self.center = trained["image_size"], trained["clip_len"], scored_frame(trained)
        self.threshold = None
        if self.stats:
            self.threshold = threshold_for(self.stats, cfg.get("threshold"), cfg.false_alarm_rate)
        elif cfg.get("threshold") is not None:
            raise ConfigError(f"threshold={cfg.threshold}: ckpt_path={cfg.ckpt_path} has no calibration "
                              "statistics (trained before them, or converted without calibrate=true)")

    def describe(self) -> str:
        """The runtime and its precision, for the log."""
        if self.runtime == "openvino":
            return f"OpenVINO CPU, inference precision {self.precision['inference_precision']}"
        return (f"precision={self.speed.precision} ({self.speed.trainer_precision}"
                f"{', compiled with freezing' if self.speed.inference_compile else ''})")

    def threshold_origin(self) -> dict | None:
        """How the threshold was set, for the log and flagged.json: on which normal frames
        (training clips, or held-out footage given to ``lnta.calibrate``), how many, and the rule."""
        if not self.stats:
            return None
        held_out = bool(self.stats.get("held_out"))
        fixed = self.cfg.get("threshold") is not None
        return {"calibrated_on": "held-out normal footage" if held_out else "training clips",
                "frames": self.stats["n"], "source": self.stats["source"],
                "rule": "threshold (fixed z)" if fixed else "false_alarm_rate",
                "false_alarm_rate": None if fixed else float(self.cfg.false_alarm_rate),
                "note": None if held_out else "training clips were trained on: on unseen normal video more frames "
                "are flagged than false_alarm_rate; re-calibrate with python -m lnta.calibrate input=NORMAL_FOOTAGE"}

    def frame_results(self, source: Source, edges: str, frames: Iterable[np.ndarray] | None = None,
                      maps: bool = False):
        """Per-frame results of ``source`` (:func:`~lnta.deploy.stream.score_frames`), read from
        ``frames`` (default ``source.frames()``); a source of which no frame can be read is an error
        naming it."""
        self._read = 0
        for r in score_frames(self.forward, self._counted(source.frames() if frames is None else frames), image_size=self.image_size, clip_len=self.clip_len,
                              center=self.center, edges=edges, batch_size=self.cfg.batch_size,
                              device=self.device, maps=maps, speed=self.speed):
            yield r
        if self._read == 0:
            raise DataError(f"{source.path}: no frame could be read (an empty file, or not a video)")

    def _counted(self, frames: Iterable[np.ndarray]):
        self._read = 0
        for frame in frames:
            self._read += 1
            yield frame

    def score(self, source: Source, writer) -> dict:
        """Score one source; returns its summary for flagged.json."""
        count, fps = source.info()
        overlay = (OverlayWriter(self.out / "overlay", source.name, self.cfg.overlay, fps, self.cfg.heatmap_max)
                   if self.cfg.overlay else None)
        frames, psnr, flagged_rows = [], [], []
        inputs = KeepFrames(source.frames(), self.clip_len + 2 * self.cfg.batch_size + 8) if overlay else None
        results = self.frame_results(source, self.cfg.edges, inputs, maps=overlay is not None)
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
                if overlay:  # at the input's size, with the score known so far (min-max needs the whole video)
                    text = (f"score {z:.2f}" + (" flagged" if flag else "")) if z is not None else f"PSNR {r.psnr:.2f} dB"
                    overlay.write(r.frame, inputs[r.frame], r.error, text)
                bar.update(1)
        except KeyboardInterrupt:
            log.warning("%s: interrupted after %d frames; writing what was scored", source.name, len(frames))
        finally:
            bar.close()
            if overlay:
                overlay.close()
        return self._finish(source, writer, np.array(frames), np.array(psnr), flagged_rows, fps)

    def _finish(self, source, writer, frames, psnr, flagged, fps) -> dict:
        check_finite_psnr(psnr, [source.name], np.zeros(len(psnr), np.int64), frames, f"ckpt_path={self.cfg.ckpt_path}")
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
        plot_score_timeline(self.out / "plots" / f"{source.name}.png", source.name, frames,
                            None if self.cfg.stream and z is not None else minmax, z, self.threshold, intervals)
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
    checkpoint = load_checkpoint(cfg.ckpt_path) if runtime_of(cfg) == "pytorch" else None
    sources = find_sources(str(cfg.input), cfg.input_format)
    scorer = VideoScorer(cfg, checkpoint, out)
    log.info("scoring %s on %s, edges=%s, %s", counted(len(sources), "video"), scorer.device, cfg.edges,
             scorer.describe())
    origin = scorer.threshold_origin()
    if origin:
        log.info("threshold z > %.3f set by %s on %d frames of %s%s", scorer.threshold,
                 f"false_alarm_rate={origin['false_alarm_rate']}" if origin["false_alarm_rate"] is not None
                 else "threshold", origin["frames"], origin["calibrated_on"],
                 f" ({origin['note']})" if origin["note"] else "")
    report = {"ckpt_path": str(Path(cfg.ckpt_path).resolve()), "edges": cfg.edges, "threshold": scorer.threshold,
              "threshold_origin": origin, "runtime": scorer.runtime, **scorer.precision,
              "calibration": scorer.stats and {k: v for k, v in scorer.stats.items() if k != "psnr"}, "videos": {}}
    with staged_outputs(out, last=("scores.csv", "flagged.json")) as stage:  # all or nothing, see docs/scoring.md
        scorer.out = stage
        if cfg.stream:
            log.info("streaming rows to %s (moved to %s when every input is scored)", stage / "scores.csv", out)
        with open(stage / "scores.csv", "w", newline="", buffering=1) as f:  # line-buffered: readable while streaming
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for source in sources:
                report["videos"][source.name] = scorer.score(source, writer)
        report["inference_compiled"] = compiled_last(scorer.forward)
        write_json(stage / "flagged.json", report)
    log.info("wrote %s", out)
    return report


def _inside_training_root(sources: list[Source], data_config: dict) -> str | None:
    """The stored ``data.root`` when any of ``sources`` lies inside it (the footage may have been trained on),
    else None."""
    root = data_config.get("root")
    if not root:
        return None
    root_path = Path(str(root)).expanduser().resolve()
    for source in sources:
        if source.kind != "device" and root_path in (p := Path(source.path).expanduser().resolve(), *p.parents):
            return str(root)
    return None


def recalibrate(cfg: DictConfig) -> dict:
    """``lnta.calibrate``: calibration statistics of ``cfg.ckpt_path`` on the held-out normal footage
    ``cfg.input`` (every frame with a whole clip, as in the reference protocol), written with the
    rest of the checkpoint to ``cfg.out`` (default ``<run dir>/calibrated.ckpt``) atomically.
    Returns the new statistics (without the PSNR list)."""
    checkpoint = load_checkpoint(cfg.ckpt_path)
    sources = find_sources(str(cfg.input), cfg.input_format)
    scorer = VideoScorer(cfg, checkpoint, Path(cfg.paths.output_dir))
    psnr, frames, videos = [], [], []
    for v, source in enumerate(sources):
        for r in tqdm(scorer.frame_results(source, "drop"), desc=source.name, unit="frame", disable=not cfg.progress):
            psnr.append(r.psnr), frames.append(r.frame), videos.append(v)
    psnr = np.asarray(psnr, np.float64)
    check_finite_psnr(psnr, [s.name for s in sources], np.asarray(videos), np.asarray(frames), f"ckpt_path={cfg.ckpt_path}")
    if len(psnr) < 2:
        raise DataError(f"input={cfg.input}: {len(psnr)} frame(s) with a whole {scorer.clip_len}-frame clip; "
                        "calibration needs normal footage of many frames")
    trained_on = _inside_training_root(sources, checkpoint[CONFIG_KEY].get("data") or {})
    if trained_on:
        calibrate_log.warning("input=%s lies in the checkpoint's training folder (data.root=%s): frames the model "
                              "trained on give too low a threshold; calibrate on normal footage it never saw",
                              cfg.input, trained_on)
    what = "normal footage from the training folder" if trained_on else "held-out normal footage"
    stats = calibration_stats(psnr, f"{len(psnr)} frames of {what} {cfg.input}")
    stats.update(held_out=not trained_on, input=str(Path(str(cfg.input)).expanduser().resolve()), videos=len(sources))
    new_threshold = threshold_for(stats, false_alarm_rate=cfg.false_alarm_rate)
    if scorer.stats:  # what the threshold set on the training clips would flag on this normal footage
        old = float(np.mean(calibrated_scores(psnr, scorer.stats) > threshold_for(scorer.stats, None,
                                                                                   cfg.false_alarm_rate)))
        stats["previous"] = {"source": scorer.stats["source"], "false_alarm_rate_here": old}
        calibrate_log.info("the previous threshold (%s) flags %.1f%% of these normal frames; the new one %.1f%% "
                           "(false_alarm_rate=%g)", scorer.stats["source"], 100 * old,
                           100 * float(np.mean(calibrated_scores(psnr, stats) > new_threshold)), cfg.false_alarm_rate)
    checkpoint[CALIBRATION_KEY] = stats
    out = Path(cfg.out).expanduser() if cfg.get("out") else Path(cfg.paths.output_dir) / "calibrated.ckpt"
    with atomic_path(out) as tmp:
        torch.save(checkpoint, tmp)
    calibrate_log.info("calibrated on %d frames of %s: normal PSNR %.2f +- %.2f dB, threshold z > %.3f -> %s",
                       stats["n"], counted(len(sources), "video"), stats["mean"], stats["std"], new_threshold, out)
    return {k: v for k, v in stats.items() if k != "psnr"}

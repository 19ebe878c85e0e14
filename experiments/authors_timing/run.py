"""Paired timing: the authors' unmodified code and lnta at the same settings, run in turn on one machine.

    python experiments/authors_timing/run.py --out DIR                    # 256², batch 4, 2 warm-up + 10 timed
    python experiments/authors_timing/run.py --out DIR --tiny             # 64², 1 warm-up + 2 timed: a smoke run
    python experiments/authors_timing/run.py table --out DIR              # results.json + results.md from DIR's records

Training, per method (baseline, patch, skip): their ``train.py`` (the flags of
``experiments/reference_cpu64/run.py``, ``--h/--w SIZE``, their default 2 loader workers) and
``python -m lnta.train +experiment=ped2_<method>`` with ``precision=exact`` and ``precision=fast``
(``data.num_workers`` 2, its default). Both are timed from the inside by ``timed.py``: a timestamp
after every optimizer step; s/iter is the mean of the ``--timed`` iterations after ``--warmup``
(the iterations include data loading and the pseudo anomalies on both sides). A Ped2 epoch is
estimated as 577 iterations (2310 training clips / batch 4) at that rate.

Testing, on the first ``--eval-videos`` Ped2 test videos: their ``evaluate.py --print_time`` (frames/s
of their test loop, batch 1, one loader worker) and ``python -m lnta.eval`` (frames/s of
``Trainer.test``: decoding, the loop, the metrics), on the same weights: a freshly initialised model of
their code (seed 0), converted for lnta with ``python -m lnta.convert``. Both print the frame AUC of
these weights, which must agree.

Scratch (a temporary folder, removed at the end): a view of their clone (symlinks, plus its own
``exp/`` and ``dataset/cifar100``), the CIFAR-100-format intruder folder their patch method reads
(made from the CIFAR-10 *test* split, 10,000 images, labels as fine labels: the same images lnta's
patch run uses through ``anomaly.intruder.split=test``), and a Ped2 folder with the first test
videos (symlinks) and the matching slice of the frame labels. Nothing is written into the clone or
the shared datasets. Every job is resumable: a finished record is not run again.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # this checkout's lnta
TIMED = HERE / "timed.py"
_spec = importlib.util.spec_from_file_location("reference_cpu64_run", HERE.parent / "reference_cpu64" / "run.py")
_study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_study)
AUTHORS_METHOD, LNTA_METHOD, SHARED = _study.AUTHORS_METHOD, _study.LNTA_METHOD, _study.SHARED
METHODS = ("baseline", "patch", "skip")
PRECISIONS = ("exact", "fast")
#: Steps of one Ped2 training epoch at batch 4 (2310 clips of 16 frames, drop_last), both codes.
PED2_EPOCH_CLIPS = 2310
CLONE = Path("/work/scratch/ref")


# ---------------------------------------------------------------- scratch folder

def clone_view(clone: Path, tmp: Path) -> Path:
    """A folder that looks like their clone (symlinks to its files) with its own ``exp/`` and the
    CIFAR-100-format ``dataset/cifar100`` their patch method reads (relative to the working dir)."""
    view = tmp / "authors_view"
    view.mkdir()
    for entry in clone.iterdir():
        if entry.name not in ("exp", "dataset", ".venv", "__pycache__"):
            (view / entry.name).symlink_to(entry)
    cifar = view / "dataset" / "cifar100" / "cifar-100-python"
    cifar.mkdir(parents=True)
    from lnta.anomaly.intruders.sources import read_cifar_batch

    batch = read_cifar_batch(SHARED / "cifar10" / "cifar-10-batches-py" / "test_batch")
    with open(cifar / "train", "wb") as f:  # the CIFAR-100 pickle's keys: data (N x 3072 uint8), fine_labels
        pickle.dump({"data": np.asarray(batch[b"data"], dtype=np.uint8), "fine_labels": list(batch[b"labels"])}, f)
    return view


def test_subset(tmp: Path, videos: int) -> tuple[Path, list[int]]:
    """``tmp/data/ped2``: the first ``videos`` Ped2 test videos (symlinks), the training split
    (symlink) and the matching slice of ``frame_labels_ped2.npy``; returns the root and the lengths."""
    source = SHARED / "ped2"
    root = tmp / "data" / "ped2"
    frames = root / "testing" / "frames"
    frames.mkdir(parents=True)
    names = sorted(p.name for p in (source / "testing" / "frames").iterdir())[:videos]
    lengths = []
    for name in names:
        (frames / name).symlink_to(source / "testing" / "frames" / name)
        lengths.append(len(list((source / "testing" / "frames" / name).glob("*.jpg"))))
    (root / "training").symlink_to(source / "training")
    labels = np.load(source / "frame_labels_ped2.npy")
    np.save(root / "frame_labels_ped2.npy", labels[..., :sum(lengths)])
    return root, lengths


# ---------------------------------------------------------------- jobs

def _run(cmd: list[str], log: Path, env: dict, cwd: Path = REPO) -> tuple[str, float]:
    """The study runner's ``_run`` (output logged, one-line failure), plus the process's wall seconds."""
    t0 = time.monotonic()
    output = _study._run(cmd, log, cwd=cwd, env=env)
    return output, time.monotonic() - t0


def _env(threads: int) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}


def _record(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def train_job(side: str, method: str, precision: str | None, a, view: Path | None) -> None:
    name = f"{side}_{method}" + (f"_{precision}" if precision else "")
    out = a.out / "train" / name
    steps = a.warmup + a.timed
    record = out / "record.json"
    done = _record(record)
    if done and len(done["steps"]) >= steps and done.get("wall_s"):
        return
    out.mkdir(parents=True, exist_ok=True)
    if side == "authors":
        cmd = [a.authors_python, str(TIMED), "--record", str(record), "--stop-after", str(steps), "authors",
               "--clone", str(view), "--seed", "0", "--threads", str(a.threads), "train.py",
               "--dataset_type", "ped2", "--dataset_path", str(SHARED), "--h", str(a.size), "--w", str(a.size),
               "--batch_size", str(a.batch), "--epochs", "1", "--exp_dir", f"timing_{method}_",
               *AUTHORS_METHOD[method]]
    else:
        cmd = [sys.executable, str(TIMED), "--record", str(record), "lnta", "lnta.train",
               f"+experiment={LNTA_METHOD[method]}", f"data.root={SHARED / 'ped2'}", f"data.image_size={a.size}",
               f"data.batch_size={a.batch}", f"precision={precision}", f"trainer.max_steps={steps}", "seed=0",
               "test_after_fit=false", "evaluation.calibration=null", "ckpt_path=null",
               "trainer.enable_progress_bar=false", f"hydra.run.dir={out / 'run'}"]
        if method == "patch":
            cmd += [f"anomaly.intruder.path={SHARED / 'cifar10'}", "anomaly.intruder.split=test"]
    print(time.strftime("%H:%M:%S"), "train", name, flush=True)
    _, wall = _run(cmd, out / "log.txt", _env(a.threads))
    data = _record(record)
    data["wall_s"], data["command"] = wall, shlex.join(cmd)
    record.write_text(json.dumps(data))


def eval_jobs(a, view: Path, tmp: Path) -> None:
    precisions = [p for p in a.eval_precisions if not (a.out / "eval" / f"lnta_{p}" / "record.json").exists()
                  or not _record(a.out / "eval" / f"lnta_{p}" / "record.json").get("wall_s")]
    authors_done = (a.out / "eval" / "authors" / "record.json").exists() and \
        _record(a.out / "eval" / "authors" / "record.json").get("wall_s")
    if authors_done and not precisions:
        return
    root, lengths = test_subset(tmp, a.eval_videos)
    env = _env(a.threads)
    weights = tmp / "authors_init.pth"
    _run([a.authors_python, str(TIMED), "init-authors", "--clone", str(view), "--seed", "0", "--out", str(weights)],
         a.out / "eval" / "init.log", env)
    scored = sum(n - a.clip_len + 1 for n in lengths)
    if not authors_done:
        out = a.out / "eval" / "authors"
        record = out / "record.json"
        out.mkdir(parents=True, exist_ok=True)
        cmd = [a.authors_python, str(TIMED), "--record", str(record), "authors", "--clone", str(view), "--seed", "0",
               "--threads", str(a.threads), "evaluate.py", "--dataset_type", "ped2", "--dataset_path", str(root.parent),
               "--h", str(a.size), "--w", str(a.size), "--model_dir", str(weights), "--print_time"]
        print(time.strftime("%H:%M:%S"), "eval authors", flush=True)
        text, wall = _run(cmd, out / "log.txt", env)
        data = _record(record)
        data.update(wall_s=wall, command=shlex.join(cmd), scored_frames=scored, **parse_authors_eval(text))
        record.write_text(json.dumps(data))
    if precisions:
        ckpt = tmp / "lnta_init.ckpt"
        _run([sys.executable, "-m", "lnta.convert", f"src={weights}", f"out={ckpt}", "data=ped2",
              f"data.root={root}", f"data.image_size={a.size}", f"hydra.run.dir={tmp / 'convert'}"],
             a.out / "eval" / "init.log", env)
    for precision in precisions:
        out = a.out / "eval" / f"lnta_{precision}"
        record = out / "record.json"
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(TIMED), "--record", str(record), "lnta", "lnta.eval", f"ckpt_path={ckpt}",
               f"precision={precision}", "evaluation.pixel_masks=null", "trainer.enable_progress_bar=false",
               f"hydra.run.dir={out / 'run'}"]
        print(time.strftime("%H:%M:%S"), "eval lnta", precision, flush=True)
        _, wall = _run(cmd, out / "log.txt", env)
        data = _record(record)
        metrics = json.loads((out / "run" / "metrics.json").read_text())
        data.update(wall_s=wall, command=shlex.join(cmd), scored_frames=scored, auc=metrics["auc_micro"],
                    eval_batch_size=metrics.get("eval_batch_size"))
        record.write_text(json.dumps(data))


# ---------------------------------------------------------------- parsing and the table

def parse_authors_eval(text: str) -> dict:
    """Their ``evaluate.py --print_time`` output -> ``loop_fps`` (their own measure) and ``auc`` (0-1)."""
    fps = re.search(r"^fps:\s+([0-9.eE+-]+)", text, re.M)
    auc = re.search(r"AUC:\s+([0-9.eE+-]+)", text)
    if not fps or not auc:
        raise ValueError("their evaluate.py output has no 'fps:' or 'AUC:' line (was --print_time given?)")
    return {"loop_fps": float(fps.group(1)), "auc": float(auc.group(1)) / 100}


def s_per_iter(record: dict, warmup: int, timed: int, name: str = "record") -> float:
    """Mean seconds of the ``timed`` iterations after ``warmup``: (t[w + n] - t[w]) / n over the
    step timestamps t[1..] (t[k] ends iteration k). Errors: ValueError naming ``name`` if too few steps."""
    steps = record["steps"]
    if warmup < 1 or timed < 1:
        raise ValueError(f"warmup={warmup}, timed={timed}: expected at least one of each")
    if len(steps) < warmup + timed:
        raise ValueError(f"{name}: {len(steps)} steps recorded, expected {warmup + timed} "
                         f"({warmup} warm-up + {timed} timed)")
    return (steps[warmup + timed - 1] - steps[warmup - 1]) / timed


def summarise(out: Path, warmup: int, timed: int) -> dict:
    """results.json: per training job s/iter, start-up and the Ped2 epoch estimate; per test job
    frames/s and AUC; the lnta/authors ratios."""
    train, evals = {}, {}
    for path in sorted((out / "train").glob("*/record.json")):
        r = json.loads(path.read_text())
        per = s_per_iter(r, warmup, timed, str(path))
        train[path.parent.name] = {"s_per_iter": per, "startup_s": r["steps"][0] - r["start"],
                                   "wall_s": r.get("wall_s"), "ped2_epoch_s_est": PED2_EPOCH_CLIPS // 4 * per,
                                   "steps_recorded": len(r["steps"])}
    for path in sorted((out / "eval").glob("*/record.json")):
        r = json.loads(path.read_text())
        n = r["scored_frames"]
        fps = r["loop_fps"] if "loop_fps" in r else n / sum(r["test_s"])
        evals[path.parent.name] = {"frames_per_s": fps, "scored_frames": n, "auc": r["auc"], "wall_s": r["wall_s"],
                                   "frames_per_s_process": n / r["wall_s"]}
    pairs = []
    for method in METHODS:
        base = train.get(f"authors_{method}")
        for precision in PRECISIONS:
            ours = train.get(f"lnta_{method}_{precision}")
            if base and ours:
                pairs.append({"what": f"train {method}", "lnta": precision, "authors_s_per_iter": base["s_per_iter"],
                              "lnta_s_per_iter": ours["s_per_iter"], "speedup": base["s_per_iter"] / ours["s_per_iter"],
                              "authors_epoch_s": base["ped2_epoch_s_est"], "lnta_epoch_s": ours["ped2_epoch_s_est"]})
    for precision in PRECISIONS:
        ours, base = evals.get(f"lnta_{precision}"), evals.get("authors")
        if base and ours:
            pairs.append({"what": "test", "lnta": precision, "authors_frames_per_s": base["frames_per_s"],
                          "lnta_frames_per_s": ours["frames_per_s"],
                          "speedup": ours["frames_per_s"] / base["frames_per_s"],
                          "auc_diff": ours["auc"] - base["auc"]})
    settings = json.loads((out / "settings.json").read_text()) if (out / "settings.json").exists() else {}
    return {"settings": settings, "warmup": warmup, "timed": timed, "train": train, "eval": evals, "pairs": pairs}


def markdown(summary: dict) -> str:
    """One table: per pair s/iter (or frames/s) of each side, the ratio, and the Ped2 epoch estimate."""
    s = summary["settings"]
    lines = [f"Paired timing at {s.get('size', '?')}², batch {s.get('batch', '?')}, {summary['warmup']} warm-up + "
             f"{summary['timed']} timed iterations, {s.get('threads', '?')} threads; machine: "
             f"{s.get('machine', {}).get('cpu', '?')} ({s.get('machine', {}).get('cpu_capability', '?')}, "
             f"native bf16: {s.get('machine', {}).get('fast_bf16', '?')})",
             "", "| pair | lnta precision | authors | lnta | lnta speed-up | Ped2 epoch s, authors | Ped2 epoch s, lnta "
             "| epoch speed-up |", "|---|---|---|---|---|---|---|---|"]
    for p in summary["pairs"]:
        if p["what"] == "test":
            lines.append(f"| test, {s.get('eval_videos', '?')} videos (frames/s) | {p['lnta']} "
                         f"| {p['authors_frames_per_s']:.3g} | {p['lnta_frames_per_s']:.3g} | {p['speedup']:.2f}x "
                         f"| | | AUC diff {p['auc_diff']:+.4f} |")
        else:
            lines.append(f"| {p['what']} (s/iter) | {p['lnta']} | {p['authors_s_per_iter']:.3g} "
                         f"| {p['lnta_s_per_iter']:.3g} | {p['speedup']:.2f}x | {p['authors_epoch_s']:.4g} "
                         f"| {p['lnta_epoch_s']:.4g} | {p['speedup']:.2f}x |")
    lines += ["", "| job | s/iter or frames/s | start-up s (to the first step) | process wall s |", "|---|---|---|---|"]
    for name, t in summary["train"].items():
        lines.append(f"| train {name} | {t['s_per_iter']:.3g} s/iter | {t['startup_s']:.3g} | {t['wall_s'] or 0:.4g} |")
    for name, e in summary["eval"].items():
        lines.append(f"| test {name} | {e['frames_per_s']:.3g} frames/s (AUC {e['auc']:.4f}) | | {e['wall_s']:.4g} |")
    return "\n".join(lines) + "\n"


def table(out: Path, warmup: int, timed: int) -> dict:
    summary = summarise(out, warmup, timed)
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    (out / "results.md").write_text(markdown(summary))
    print(markdown(summary))
    return summary


def _settings(a) -> dict:
    import torch

    from lnta.benchmark.suite import machine

    return {"size": a.size, "batch": a.batch, "warmup": a.warmup, "timed": a.timed, "threads": a.threads,
            "methods": a.methods, "precisions": a.precisions, "exact_methods": a.exact_methods,
            "eval_videos": a.eval_videos, "eval_precisions": a.eval_precisions, "clone": str(a.clone),
            "authors_python": a.authors_python, "load_average_at_start": os.getloadavg(),
            "machine": machine(torch.device("cpu"))}


def _list(kind: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [t for t in text.split(",") if t]
        bad = [t for t in items if t not in kind]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{text}: expected a comma list of {', '.join(kind)}")
        return items
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("run", "table"), default="run")
    parser.add_argument("--out", type=Path, required=True, help="the output folder (records, logs, results)")
    parser.add_argument("--tiny", action="store_true", help="64², 1 warm-up + 2 timed iterations: a smoke run")
    parser.add_argument("--size", type=int, help="frame side (default 256; --tiny 64)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, help="untimed iterations (default 2; --tiny 1)")
    parser.add_argument("--timed", type=int, help="timed iterations (default 10; --tiny 2)")
    parser.add_argument("--methods", type=_list(METHODS), default=list(METHODS))
    parser.add_argument("--precisions", type=_list(PRECISIONS), default=list(PRECISIONS), help="lnta training")
    parser.add_argument("--exact-methods", type=_list(METHODS),
                        help="lnta precision=exact training only for these methods (default: --methods)")
    parser.add_argument("--eval-precisions", type=_list(PRECISIONS), default=["fast"], help="lnta testing")
    parser.add_argument("--eval-videos", type=int, default=2, help="the first N Ped2 test videos (0: no testing)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads on both sides")
    parser.add_argument("--clone", type=Path, default=CLONE, help="a checkout of the authors' code")
    parser.add_argument("--authors-python", default=str(CLONE / ".venv" / "bin" / "python"),
                        help="the Python of the authors' environment")
    a = parser.parse_args(argv)
    a.size = a.size or (64 if a.tiny else 256)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.tiny else 2)
    a.timed = a.timed if a.timed is not None else (2 if a.tiny else 10)
    a.clip_len = 16
    a.exact_methods = a.exact_methods if a.exact_methods is not None else a.methods
    if a.warmup < 1 or a.timed < 1:
        parser.error(f"--warmup={a.warmup} --timed={a.timed}: expected at least 1 each")
    if a.what == "run":
        if not (a.clone / "train.py").is_file():
            parser.error(f"--clone={a.clone}: no train.py there; expected a checkout of the authors' code")
        if not Path(a.authors_python).is_file():
            parser.error(f"--authors-python={a.authors_python}: no such file")
    return a


def main(argv=None) -> None:
    a = parse_args(argv)
    if a.what == "table":
        settings = json.loads((a.out / "settings.json").read_text()) if (a.out / "settings.json").exists() else {}
        table(a.out, settings.get("warmup", a.warmup), settings.get("timed", a.timed))
        return
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "settings.json").write_text(json.dumps(_settings(a), indent=2))
    with tempfile.TemporaryDirectory(prefix="authors_timing_") as tmp:
        view = clone_view(a.clone, Path(tmp))
        for method in a.methods:
            train_job("authors", method, None, a, view)
            for precision in a.precisions:
                if precision == "exact" and method not in a.exact_methods:
                    continue
                train_job("lnta", method, precision, a, None)
        if a.eval_videos > 0:
            eval_jobs(a, view, Path(tmp))
    table(a.out, a.warmup, a.timed)


if __name__ == "__main__":
    main()

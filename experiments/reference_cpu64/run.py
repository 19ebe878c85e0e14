"""The multi-seed study at the authors' CPU settings: lnta and the authors' code, side by side.

Settings (both sides): real UCSD Ped2, 64x64 frames, full-width AE, batch 4, Adam 1e-4, 3 epochs
(577 steps each), fp32, p = 0.2, s in {2,3,4,5}; patch: alpha 0.5, beta 10, the CIFAR-10 test
split as the intruder stand-in (lnta only). Every job is resumable: re-run the same command.

    python experiments/reference_cpu64/run.py lnta skip 2 --out RUNS
    python experiments/reference_cpu64/run.py authors skip 1 --clone ~/LearningNotToReconstructAnomalies --out RUNS
    python experiments/reference_cpu64/run.py lane "lnta skip 2" "authors skip 1" --clone ... --out RUNS
    python experiments/reference_cpu64/run.py table --out RUNS        # results.json + the README tables

Run from the lnta checkout (or a frozen copy of it); each job writes ``RUNS/<side>/<method>/seed<N>/``
with ``auc.json`` (micro AUC per epoch, wall times). Use ``OMP_NUM_THREADS=1`` per lane when two
lanes share two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "datasets"
EPOCHS = 3
SIZE = 64
LNTA_METHOD = {"baseline": "ped2_baseline", "skip": "ped2_skip", "patch": "ped2_patch",
               "memae": "ped2_memae"}  # MemAE (issue 14): lnta only, no authors' counterpart
AUTHORS_METHOD = {"baseline": [], "skip": ["--pseudo_anomaly_jump_inpainting", "0.2", "--jump", "2", "3", "4", "5"],
                  "patch": ["--pseudo_anomaly_cifar_inpainting_smoothborder", "0.2", "--max_size", "0.5",
                            "--max_move", "10"]}


def _run(cmd: list[str], log: Path, cwd: Path | None = None, env: dict | None = None) -> str:
    """Run ``cmd`` (in ``cwd``, with ``env``), appending the command and its output to ``log``; returns
    the output. A failure exits with one line naming the command and the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"\n$ {shlex.join(cmd)}\n")
        f.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"error: {shlex.join(cmd)} failed ({proc.returncode}); see {log}")
    return proc.stdout


def _save(path: Path, result: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(path)


def lnta_job(method: str, seed: int, out: Path) -> dict:
    run = out / "lnta" / method / f"seed{seed}"
    result_file = run / "auc.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    overrides = [f"+experiment={LNTA_METHOD[method]}", f"data.root={SHARED / 'ped2'}", f"data.image_size={SIZE}",
                 f"trainer.max_epochs={EPOCHS}", "precision=exact", f"seed={seed}", "data.num_workers=0",
                 f"hydra.run.dir={run}", "trainer.enable_progress_bar=false"]
    if method == "patch":
        overrides += [f"anomaly.intruder.path={SHARED / 'cifar10'}", "anomaly.intruder.split=test"]
    t0 = time.time()
    if not (run / "metrics.json").exists():
        _run([sys.executable, "-m", "lnta.train", *overrides], run / "study.log", cwd=REPO)
    t_train = time.time() - t0
    t1 = time.time()
    _run([sys.executable, "-m", "lnta.eval", f"ckpt_path={run}", "precision=exact", f"hydra.run.dir={run / 'eval'}"],
         run / "study.log", cwd=REPO)
    epochs = json.loads((run / "epoch_metrics.json").read_text())
    rows = epochs["epochs"] if isinstance(epochs, dict) and "epochs" in epochs else epochs
    end = json.loads((run / "metrics.json").read_text())
    result = {"side": "lnta", "method": method, "seed": seed,
              "auc_micro": [r["auc_micro"] for r in sorted(rows, key=lambda r: r["epoch"])],
              "end_of_training_auc_micro": end["auc_micro"], "train_s": round(t_train), "eval_s": round(time.time() - t1),
              "command": "python -m lnta.train " + shlex.join(overrides)}
    _save(result_file, result)
    return result


def authors_job(method: str, seed: int, out: Path, clone: Path, python: str) -> dict:
    run = out / "authors" / method / f"seed{seed}"
    result_file = run / "auc.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    launcher = [python, str(REPO / "experiments" / "reference_check" / "authors_env.py"),
                "--clone", str(clone), "--seed", str(seed)]
    common = ["--dataset_type", "ped2", "--dataset_path", str(SHARED), "--h", str(SIZE), "--w", str(SIZE)]
    args = [*common, "--epochs", str(EPOCHS), "--exp_dir", f"lnta_study_{method}_seed{seed}_",
            *AUTHORS_METHOD[method]]
    exp = next((clone / "exp" / "ped2").glob(f"lnta_study_{method}_seed{seed}_*"), None) \
        if (clone / "exp" / "ped2").is_dir() else None
    done = sorted(exp.glob("model_*.pth")) if exp else []
    t0 = time.time()
    if len(done) < EPOCHS:
        resume = ["--model_dir", str(done[-1]), "--start_epoch", str(len(done))] if done else []
        _run([*launcher, "train.py", *args, *resume], run / "study.log")
        exp = next((clone / "exp" / "ped2").glob(f"lnta_study_{method}_seed{seed}_*"))
    t_train = time.time() - t0
    t1 = time.time()
    aucs = []
    for model in sorted(exp.glob("model_*.pth")):
        text = _run([*launcher, "evaluate.py", *common, "--model_dir", str(model)], run / "study.log")
        aucs.append(float(re.search(r"AUC:\s+([0-9.]+)", text).group(1)) / 100)
    result = {"side": "authors", "method": method, "seed": seed, "auc_micro": aucs,
              "train_s": round(t_train), "eval_s": round(time.time() - t1), "resumed": bool(done),
              "command": f"authors_env.py --clone CLONE --seed {seed} train.py " + shlex.join(args)}
    _save(result_file, result)
    return result


def job(spec: str, out: Path, clone: Path | None, python: str = sys.executable) -> dict:
    side, method, seed = spec.split()
    if side == "lnta":
        return lnta_job(method, int(seed), out)
    if clone is None:
        raise SystemExit("error: --clone is required for the authors' jobs")
    return authors_job(method, int(seed), out, clone, python)


def table(out: Path) -> dict:
    """Per-epoch mean ± std per (side, method), and Welch's t-test lnta vs authors per method and epoch."""
    import numpy as np
    from scipy import stats

    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/*/seed*/auc.json"))]
    measured = {(r["side"], r["method"], r["seed"]) for r in results}
    recorded = json.loads((HERE / "recorded.json").read_text())["runs"]
    results += [{**r, "recorded": True} for r in recorded if (r["side"], r["method"], r["seed"]) not in measured]
    groups: dict = {}
    for r in results:
        groups.setdefault((r["method"], r["side"]), []).append(r)
    summary = {"runs": results, "groups": {}, "tests": {}}
    for (method, side), runs in sorted(groups.items()):
        a = np.array([r["auc_micro"] for r in runs]) * 100
        summary["groups"][f"{method}/{side}"] = {
            "seeds": [r["seed"] for r in runs], "mean": a.mean(0).round(2).tolist(),
            "std": (a.std(0, ddof=1).round(2).tolist() if len(a) > 1 else None)}
    for method in sorted({m for m, _ in groups}):
        ours, theirs = groups.get((method, "lnta")), groups.get((method, "authors"))
        if ours and theirs and len(ours) >= 2 and len(theirs) == 1:
            summary.setdefault("predictions", {})[method] = prediction(ours, theirs[0])
        if not ours or not theirs or len(ours) < 2 or len(theirs) < 2:
            continue
        a = np.array([r["auc_micro"] for r in ours]) * 100
        b = np.array([r["auc_micro"] for r in theirs]) * 100
        tests = [stats.ttest_ind(a[:, e], b[:, e], equal_var=False) for e in range(a.shape[1])]
        summary["tests"][method] = [
            {"epoch": e + 1, "diff": round(float(a[:, e].mean() - b[:, e].mean()), 2),
             "welch_p": round(float(t.pvalue), 3),
             "ci95": [round(float(v), 2) for v in t.confidence_interval(0.95)]}
            for e, t in enumerate(tests)]
    _save(out / "results.json", summary)
    (out / "results.md").write_text(markdown(summary))
    print(markdown(summary))
    return summary


def prediction(ours: list[dict], single: dict) -> list[dict]:
    """Where the authors' side has one run: per epoch, lnta's 95% prediction interval for one more run,
    mean ± t(0.975, n-1) · s · sqrt(1 + 1/n) over lnta's n seeds, and whether that run falls inside it."""
    import numpy as np
    from scipy import stats

    a = np.array([r["auc_micro"] for r in ours]) * 100
    n, rows = len(a), []
    for e, value in enumerate(np.array(single["auc_micro"]) * 100):
        half = stats.t.ppf(0.975, n - 1) * a[:, e].std(ddof=1) * np.sqrt(1 + 1 / n)
        low, high = a[:, e].mean() - half, a[:, e].mean() + half
        rows.append({"epoch": e + 1, "authors": round(float(value), 2),
                     "interval": [round(float(low), 2), round(float(high), 2)], "inside": bool(low <= value <= high)})
    return rows


def markdown(summary: dict) -> str:
    """The README tables: per-run AUCs, per-epoch mean ± std side by side, and the tests."""
    lines = ["| side | method | seed | AUC micro % epochs 1 / 2 / 3 | train min | eval min |", "|---|---|---|---|---|---|"]
    for r in sorted(summary["runs"], key=lambda r: (r["method"], r["side"], r["seed"])):
        aucs = " / ".join(f"{100 * a:.2f}" for a in r["auc_micro"])
        if r.get("recorded"):
            lines.append(f"| {r['side']} | {r['method']} | {r['seed']} | {aucs} (issue 11's table) | | |")
        else:
            lines.append(f"| {r['side']} | {r['method']} | {r['seed']} | {aucs} | {r['train_s'] / 60:.1f} | "
                         f"{r['eval_s'] / 60:.1f} |")
    lines += ["", "| method | side | seeds | mean ± std per epoch (%) |", "|---|---|---|---|"]
    for key, g in summary["groups"].items():
        method, side = key.split("/")
        cells = " / ".join(f"{m:.2f} ± {s:.2f}" if g["std"] else f"{m:.2f}"
                           for m, s in zip(g["mean"], g["std"] or [0] * len(g["mean"])))
        lines.append(f"| {method} | {side} | {', '.join(map(str, g['seeds']))} | {cells} |")
    lines += ["", "| method | epoch | lnta − authors (points) | 95% CI of the difference | Welch t-test p |",
              "|---|---|---|---|---|"]
    for method, rows in summary["tests"].items():
        lines += [f"| {method} | {t['epoch']} | {t['diff']:+.2f} | {t['ci95'][0]:+.2f} to {t['ci95'][1]:+.2f} | "
                  f"{t['welch_p']:.3f} |" for t in rows]
    if summary.get("predictions"):
        lines += ["", "| method | epoch | the authors' single run | lnta's 95% prediction interval | inside |",
                  "|---|---|---|---|---|"]
        for method, rows in summary["predictions"].items():
            lines += [f"| {method} | {t['epoch']} | {t['authors']:.2f} | {t['interval'][0]:.2f} to "
                      f"{t['interval'][1]:.2f} | {'yes' if t['inside'] else 'no'} |" for t in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["lnta", "authors", "lane", "table"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--out", type=Path, default=HERE / "runs")
    parser.add_argument("--clone", type=Path, default=None, help="a checkout of the authors' code")
    parser.add_argument("--authors-python", default=sys.executable,
                        help="the Python of the authors' environment (torch, opencv-python, scikit-learn)")
    a = parser.parse_args()
    if a.what == "table":
        table(a.out)
    elif a.what == "lane":
        for spec in a.args:
            print(time.strftime("%H:%M:%S"), "start", spec, flush=True)
            result = job(spec, a.out, a.clone, a.authors_python)
            print(time.strftime("%H:%M:%S"), "done", json.dumps(result), flush=True)
    else:
        print(json.dumps(job(f"{a.what} {' '.join(a.args)}", a.out, a.clone, a.authors_python)))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

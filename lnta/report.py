"""``python -m lnta.report DIR... [--out DIR]``: runs and multirun folders -> Table 1 and Fig. 4/5 style outputs.

Every run (a folder with ``.hydra/config.yaml`` and ``metrics.json`` or ``epochs.csv``) is reduced
to its setting (dataset, method, p, alpha, beta, s, technique, intruder), seed and AUC under each
selection protocol (``last``: no test labels; ``oracle``: best test epoch, needs ``epochs.csv``
from ``python -m lnta.eval ckpt_path=RUN``). Outputs: ``runs.csv``, ``table.csv``, ``report.md``
(mean ± std over seeds per protocol) and PNG plots of AUC against each swept hyperparameter
(the baseline as a line) and of AUC per epoch.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from lnta.epochs import read_epoch_table
from lnta.errors import DataError
from lnta.io import write_text
from lnta.plots import plot_curves
from lnta.selection import PROTOCOLS, select_epoch

#: Hyperparameters that define a setting: name -> path in the run config.
AXES = {"p": "anomaly.p", "alpha": "anomaly.alpha", "beta": "anomaly.beta", "s": "anomaly.skips",
        "r": "anomaly.repeats", "technique": "anomaly.technique", "intruder": "anomaly.intruder.source"}
#: Method names by class; a type's config ``name`` (e.g. ``noise``, a PatchAnomaly) takes precedence.
METHODS = {"PatchAnomaly": "patch", "SkipFrame": "skip", "ReverseClip": "reverse", "RepeatFrames": "repeat",
           "ShuffleClip": "shuffle"}
#: Models named in the method ("memae skip"); the reference conv AE goes unnamed.
MODELS = {"ConvAE3D": "", "MemAE": "memae"}
RUN_FIELDS = ["run", "experiment", "dataset", "model", "method", *AXES, "seed", "auc_last", "auc_oracle",
              "oracle_epoch", "pixel_auc_last"]


def _method(anomaly: dict) -> str:
    specs = [anomaly] if "_target_" in anomaly else list((anomaly.get("types") or {}).values())
    names = [s.get("name") or METHODS.get(str(s.get("_target_", "")).rsplit(".", 1)[-1], str(s.get("_target_")))
             for s in specs]
    return "+".join(names) or "baseline"


def _value(cfg, path: str):
    value = OmegaConf.select(cfg, path, throw_on_resolution_failure=False)
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return "{" + ",".join(map(str, value)) + "}" if isinstance(value, list) else value


def read_run(run: Path) -> dict:
    """One run folder -> its setting, seed and AUC under every selection protocol."""
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    hydra_file = run / ".hydra" / "hydra.yaml"
    choices = OmegaConf.load(hydra_file).hydra.runtime.choices if hydra_file.is_file() else {}
    method = _method(OmegaConf.to_container(cfg.get("anomaly") or {}, resolve=False))
    model = str(_value(cfg, "model._target_") or "ConvAE3D").rsplit(".", 1)[-1]
    model = MODELS.get(model, model)
    row = {"run": str(run), "experiment": choices.get("experiment"), "dataset": _value(cfg, "data.name"),
           "model": model or "conv_ae3d", "method": f"{model} {method}" if model else method,
           "seed": _value(cfg, "seed")}
    row.update({k: (_value(cfg, path) if method != "baseline" else None) for k, path in AXES.items()})
    epochs = read_epoch_table(run)
    if epochs:
        last, best = select_epoch(epochs, "last"), select_epoch(epochs, "oracle")
        row.update(auc_last=last["auc_micro"], auc_oracle=best["auc_micro"], oracle_epoch=best["epoch"],
                   pixel_auc_last=last["pixel_auc"])
    else:
        metrics = json.loads((run / "metrics.json").read_text())
        row.update(auc_last=metrics["auc_micro"], auc_oracle=float("nan"), oracle_epoch=None,
                   pixel_auc_last=metrics.get("pixel_auc", float("nan")))
    return row


def find_runs(paths: list[Path]) -> list[Path]:
    """Training runs under ``paths`` (themselves or any subfolder)."""
    runs = []
    for path in paths:
        if not path.is_dir():
            raise DataError(f"{path}: folder not found")
        for config in sorted(path.glob("**/.hydra/config.yaml")):
            run = config.parent.parent
            if (run / "metrics.json").is_file() or (run / "epochs.csv").is_file():
                if OmegaConf.load(config).get("task_name", "train") == "train":
                    runs.append(run)
    if not runs:
        raise DataError(f"{', '.join(map(str, paths))}: no training runs (.hydra/config.yaml + metrics.json) found")
    return runs


def setting_label(row: dict, varied: list[str]) -> str:
    """The method and the values of the hyperparameters that vary among its runs."""
    return " ".join([row["method"], *(f"{k}={row[k]}" for k in varied)])


def varied_axes(rows: list[dict]) -> dict[str, list[str]]:
    """Per (dataset, method): the hyperparameters that take more than one value among its runs."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["method"])].append(r)
    return {key: [k for k in AXES if len({str(r[k]) for r in rs}) > 1] for key, rs in groups.items()}


def summarize(rows: list[dict]) -> list[dict]:
    """Mean, std (ddof 1) and count over seeds per (dataset, setting, protocol); NaNs are skipped."""
    varied = varied_axes(rows)
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], setting_label(r, varied[(r["dataset"], r["method"])]))].append(r)
    out = []
    for (dataset, setting), rs in groups.items():
        for protocol in PROTOCOLS:
            values = np.array([r[f"auc_{protocol}"] for r in rs], float)
            values = values[~np.isnan(values)]
            out.append({"dataset": dataset, "setting": setting, "protocol": protocol, "n": len(values),
                        "mean": float(values.mean()) if len(values) else float("nan"),
                        "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                        "seeds": " ".join(sorted(str(r["seed"]) for r in rs))})
    return out


def _csv(rows: list[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(s: dict) -> str:
    if not s["n"]:
        return "—"
    std = f" ± {100 * s['std']:.2f}" if s["n"] > 1 else ""
    return f"{100 * s['mean']:.2f}{std} (n={s['n']})"


def markdown(summary: list[dict]) -> str:
    """One Table-1-shaped table per selection protocol: settings as rows, datasets as columns."""
    datasets = sorted({s["dataset"] for s in summary})
    settings = list(dict.fromkeys(s["setting"] for s in sorted(summary, key=lambda s: s["setting"])))
    lines = ["# Frame-level AUC (%), mean ± std over seeds", ""]
    for protocol, rule in PROTOCOLS.items():
        cells = {(s["dataset"], s["setting"]): s for s in summary if s["protocol"] == protocol}
        lines += [f"## Selection `{protocol}`: {rule}", "", "| setting | " + " | ".join(datasets) + " |",
                  "|---|" + "---|" * len(datasets)]
        for setting in settings:
            row = [_cell(cells[(d, setting)]) if (d, setting) in cells else "" for d in datasets]
            lines.append(f"| {setting} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def _plot_sweeps(rows: list[dict], out: Path) -> list[Path]:
    written = []
    for (dataset, method), axes in varied_axes(rows).items():
        baseline = [r for r in rows if r["dataset"] == dataset and r["method"] == "baseline"]
        mine = [r for r in rows if r["dataset"] == dataset and r["method"] == method]
        for axis in axes:
            values = sorted({str(r[axis]) for r in mine}, key=lambda v: (len(v), v))
            curves, hlines = {}, {}
            for protocol in PROTOCOLS:
                per = [np.array([r[f"auc_{protocol}"] for r in mine if str(r[axis]) == v], float) for v in values]
                if all(np.isnan(a).all() for a in per):
                    continue
                curves[f"{method} ({protocol})"] = (values, [np.nanmean(a) for a in per], [_std(a) for a in per])
                base = np.array([r[f"auc_{protocol}"] for r in baseline], float)
                if len(base) and not np.isnan(base).all():
                    hlines[f"baseline ({protocol})"] = float(np.nanmean(base))
            numeric = all(_is_number(v) for v in values)
            path = out / f"auc_vs_{axis}_{dataset}_{method}.png"
            plot_curves(path, curves, xlabel=axis, ylabel="frame-level AUC", title=f"{dataset}: {method}",
                        hlines=hlines, categorical=not numeric)
            written.append(path)
    return written


def _std(values: np.ndarray) -> float:
    """Std over seeds with ddof 1, as in the table; 0 for a single seed (no error bar)."""
    values = values[~np.isnan(values)]
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plot_epochs(rows: list[dict], out: Path) -> list[Path]:
    written = []
    varied = varied_axes(rows)
    for dataset in sorted({r["dataset"] for r in rows}):
        curves = {}
        for r in rows:
            epochs = read_epoch_table(Path(r["run"])) if r["dataset"] == dataset else None
            if epochs:
                label = f"{setting_label(r, varied[(dataset, r['method'])])} seed={r['seed']}"
                curves[label] = ([e["epoch"] for e in epochs], [e["auc_micro"] for e in epochs])
        if curves:
            path = out / f"auc_per_epoch_{dataset}.png"
            plot_curves(path, curves, xlabel="epoch", ylabel="frame-level AUC", title=f"{dataset}: AUC per epoch")
            written.append(path)
    return written


def report(paths: list[Path], out: Path) -> dict:
    """Write ``runs.csv``, ``table.csv``, ``report.md`` and the plots into ``out``; returns what it wrote."""
    rows = [read_run(run) for run in find_runs(paths)]
    summary = summarize(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "runs.csv", _csv(rows, RUN_FIELDS))
    write_text(out / "table.csv", _csv(summary, ["dataset", "setting", "protocol", "mean", "std", "n", "seeds"]))
    write_text(out / "report.md", markdown(summary))
    plots = _plot_sweeps(rows, out) + _plot_epochs(rows, out)
    return {"runs": rows, "summary": summary, "plots": plots}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lnta.report", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="run or multirun folders")
    parser.add_argument("--out", type=Path, default=Path("outputs/report"), help="where to write (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        result = report(args.dirs, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(markdown(result["summary"]))
    print(f"{len(result['runs'])} runs -> {args.out} (report.md, table.csv, runs.csv, {len(result['plots'])} plots)")


if __name__ == "__main__":
    main()

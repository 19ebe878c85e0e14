"""``python -m lnta.report DIR... [--out DIR]``: runs and multirun folders -> Table 1 and Fig. 4/5 style outputs.

Every run (a folder with ``.hydra/config.yaml`` and ``metrics.json`` or ``epochs.csv``) is reduced
to its setting (dataset, method, p, alpha, beta, s, technique, intruder, and every other config value
that differs between the runs given, such as image size, width, epochs or steps; never the seed),
seed and AUC under each selection protocol (``last``: no test labels; ``oracle``: best test epoch, needs ``epochs.csv``
from ``python -m lnta.eval ckpt_path=RUN``). Outputs: ``runs.csv``, ``table.csv``, ``report.md``
(mean ± std over the seeds of one setting per protocol, with a list of what differs between the
settings) and PNG plots of AUC against each swept hyperparameter
(the baseline as a line) and of AUC per epoch.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from lnta.metrics.selection import read_epoch_table
from lnta.errors import DataError
from lnta.io import write_csv, write_text
from lnta.reporting.plots import plot_curves
from lnta.metrics.selection import PROTOCOLS, select_epoch

#: Hyperparameters that define a setting: name -> path in the run config.
AXES = {"p": "anomaly.p", "alpha": "anomaly.alpha", "beta": "anomaly.beta", "s": "anomaly.skips",
        "r": "anomaly.repeats", "technique": "anomaly.technique", "intruder": "anomaly.intruder.source"}
#: Method names by class; a type's config ``name`` (e.g. ``noise``, a PatchAnomaly) takes precedence.
METHODS = {"PatchAnomaly": "patch", "SkipFrame": "skip", "ReverseClip": "reverse", "RepeatFrames": "repeat",
           "ShuffleClip": "shuffle"}
#: Models named in the method ("memae skip"); the reference conv AE goes unnamed.
MODELS = {"ConvAE3D": "", "MemAE": "memae"}
#: A run's real training length ("20 steps", "3 epochs": from its metrics.json), shown instead of the configured
#: trainer.max_epochs / max_steps / limit_train_batches, which say little alone (a 20-step run of "epochs=60").
LENGTH = "length"
#: Short names of config values that often differ between runs (the rest are shown by their path).
NAMES = {**{path: name for name, path in AXES.items()}, "data.image_size": "image_size", "model.width": "width",
         "trainer.max_epochs": "epochs", "trainer.max_steps": "steps", "trainer.limit_train_batches": "batches",
         "data.batch_size": "batch", "optimizer.lr": "lr", "data.clip_len": "clip_len", LENGTH: "length"}
#: Config values that do not change a run's numbers: where files are, how much is printed or kept.
IGNORED = ("seed", "task_name", "tags", "ckpt_path", "test_after_fit", "paths.", "logger.", "callbacks.", "hydra.",
           "data.root", "data.cache_dir", "data.num_workers", "data.eval_batch_size", "trainer.default_root_dir",
           "trainer.enable_progress_bar", "trainer.log_every_n_steps", "trainer.enable_model_summary",
           "trainer.max_epochs", "trainer.max_steps", "trainer.limit_train_batches")  # these three: LENGTH
RUN_FIELDS = ["run", "experiment", "dataset", "model", "method", "setting", *AXES, "seed", "length", "auc_last", "auc_oracle",
              "oracle_epoch", "pixel_auc_last"]


def _method(anomaly: dict, resolve) -> str:
    """The method name of a run's ``anomaly`` config; ``resolve(path)`` reads a value below ``anomaly``."""
    if "_target_" in anomaly:
        specs = [""]
    else:
        specs = [f"types.{name}." for name in (anomaly.get("types") or {})]
    names = [resolve(f"{s}name") or METHODS.get(str(resolve(f"{s}_target_") or "").rsplit(".", 1)[-1],
                                                   str(resolve(f"{s}_target_"))) for s in specs]
    return "+".join(names) or "baseline"


#: A reference to another key of the same file (``${anomaly.types.skip.skips}``): the only interpolation
#: the report follows; lnta's own configs write such references.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


def load_run_file(path: Path) -> dict:
    """A run folder's YAML file (``.hydra/config.yaml``, ``hydra.yaml``) as plain data, nothing resolved:
    a tag such as ``!!python/object/apply`` is refused by the safe loader (never constructed), and any
    unreadable file is one :class:`DataError` naming it."""
    try:
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the file's: YAML, OmegaConf, OS errors
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"{path}: not a readable run config ({exc.__class__.__name__}: {reason})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a run config (expected a mapping of settings)")
    return data


def _lookup(data: dict, path: str):
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _resolved(data: dict, path: str, file: Path, hops: int = 0):
    """The value at ``path`` of a run file's ``data``, references to other keys followed; any other
    interpolation (a resolver such as ``${oc.env:HOME}``) is refused: nothing in a run folder is run."""
    value = _lookup(data, path)
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and "${" in v for v in texts):
        reference = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if reference is None or hops >= 8:
            raise DataError(f"{file}: {path}={value!r} is refused: the report reads run files as data and "
                            "resolves no interpolation (only a reference to another key, ${a.b})")
        return _resolved(data, reference.group(1), file, hops + 1)
    if isinstance(value, dict):
        raise DataError(f"{file}: {path} is a mapping; expected a value")
    return value


def _shown(value):
    return "{" + ",".join(map(str, value)) + "}" if isinstance(value, list) else value


def _ignored(key: str) -> bool:
    return key.endswith("intruder.path") or any(key == i or (i.endswith(".") and key.startswith(i)) for i in IGNORED)


def _flat(node, prefix: str = "") -> dict[str, str]:
    """A config as ``a.b.c -> str(value)``, without :data:`IGNORED` keys (interpolations unresolved)."""
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {} if _ignored(prefix[:-1]) else {prefix[:-1]: str(node)}


def _metric(metrics: dict, key: str, file: Path, required: bool = False) -> float | None:
    """``metrics[key]`` as a float; None (an empty cell) when null, NaN or, unless ``required``, absent."""
    if key not in metrics and required:
        raise DataError(f"{file}: no {key}; not the metrics.json of an lnta run")
    value = metrics.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise DataError(f"{file}: {key}={json.dumps(value)[:80]}: expected a number or null")
    return _number(value)


def read_run(run: Path) -> dict:
    """One run folder -> its setting, seed and AUC under every selection protocol. Its files are data:
    read without resolving anything (:func:`load_run_file`, :func:`_resolved`); a malformed file is one
    :class:`DataError` naming it."""
    config_file, hydra_file = run / ".hydra" / "config.yaml", run / ".hydra" / "hydra.yaml"
    cfg = load_run_file(config_file)

    def value(path: str):
        return _resolved(cfg, path, config_file)

    choices = {}
    if hydra_file.is_file():
        hydra = load_run_file(hydra_file)
        choices = {"experiment": _resolved(hydra, "hydra.runtime.choices.experiment", hydra_file)}
    anomaly = cfg.get("anomaly") if isinstance(cfg.get("anomaly"), dict) else {}
    method = _method(anomaly, lambda path: value(f"anomaly.{path}"))
    model = str(value("model._target_") or "ConvAE3D").rsplit(".", 1)[-1]
    model = MODELS.get(model, model)
    row = {"run": str(run), "experiment": choices.get("experiment"), "dataset": value("data.name"),
           "model": model or "conv_ae3d", "method": f"{model} {method}" if model else method,
           "seed": value("seed"), "config": _flat(cfg)}
    row.update({k: (_shown(value(path)) if method != "baseline" else None) for k, path in AXES.items()})
    file = run / "metrics.json"
    metrics = _read_metrics(file) if file.is_file() else {}
    row["length"] = row["config"][LENGTH] = _length(metrics, value)
    epochs = read_epoch_table(run)
    if epochs:
        last, best = select_epoch(epochs, "last"), select_epoch(epochs, "oracle")
        row.update(auc_last=_number(last["auc_micro"]), auc_oracle=_number(best["auc_micro"]),
                   oracle_epoch=best["epoch"], pixel_auc_last=_number(last["pixel_auc"]))
    else:  # the oracle needs every epoch's AUC (epochs.csv): None, an empty cell (see ORACLE_NOTE)
        metrics = _read_metrics(file)
        row.update(auc_last=_metric(metrics, "auc_micro", file, required=True), auc_oracle=None, oracle_epoch=None,
                   pixel_auc_last=_metric(metrics, "pixel_auc", file))
    return row


def _read_metrics(file: Path) -> dict:
    try:
        metrics = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not readable as JSON ({exc.__class__.__name__})") from None
    if not isinstance(metrics, dict):
        raise DataError(f"{file}: expected a JSON object of metrics")
    return metrics


def _length(metrics: dict, value) -> str:
    """How long a run trained: ``N steps`` where ``trainer.max_steps`` stopped it, else ``N epochs``, from its
    ``metrics.json`` (``global_step``, ``epoch`` counted from 0); the configured length where it has none."""
    step, epoch = metrics.get("global_step"), metrics.get("epoch")
    max_steps = value("trainer.max_steps")
    limited = isinstance(max_steps, int) and max_steps > 0
    if isinstance(step, int) and isinstance(epoch, int):
        return f"{step} steps" if limited and step >= max_steps else f"{epoch + 1} epochs"
    return f"{max_steps} steps (configured)" if limited else f"{value('trainer.max_epochs')} epochs (configured)"


def _number(value) -> float | None:
    """``value`` as a float, None (an empty cell) when absent or NaN."""
    return None if value is None or np.isnan(float(value)) else float(value)


#: Said under the ``oracle`` table when some run has no per-epoch AUCs.
ORACLE_NOTE = ("Oracle cells count only runs with `epochs.csv` (the AUC of every epoch); write it with "
               "`python -m lnta.eval ckpt_path=RUN` (every epoch's checkpoint, kept by the default "
               "`callbacks.model_checkpoint.save_top_k=-1`), then report again.")


def find_runs(paths: list[Path]) -> list[Path]:
    """Training runs under ``paths`` (themselves or any subfolder)."""
    runs = []
    for path in paths:
        if not path.is_dir():
            raise DataError(f"{path}: folder not found")
        for config in sorted(path.glob("**/.hydra/config.yaml")):
            run = config.parent.parent
            if (run / "metrics.json").is_file() or (run / "epochs.csv").is_file():
                task = _resolved(load_run_file(config), "task_name", config)
                if task in (None, "train"):
                    runs.append(run)
    if not runs:
        raise DataError(f"{', '.join(map(str, paths))}: no training runs (.hydra/config.yaml + metrics.json) found")
    return runs


def differing_keys(rows: list[dict]) -> list[str]:
    """The config keys (not the seed, not :data:`IGNORED`) whose value is not the same in all ``rows``."""
    keys = sorted({k for r in rows for k in r["config"]})
    return [k for k in keys if len({r["config"].get(k) for r in rows}) > 1 and k != "data.name"]


def _name(key: str) -> str:
    return NAMES.get(key, key)


def _short_names(keys: list[str]) -> dict[str, str]:
    """Label names of ``keys``: :data:`NAMES`, else the last part of the path where no other key ends the same."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: NAMES.get(k) or (tail if last.count(tail) == 1 else k) for k, tail in zip(keys, last)}


def _context(row: dict, keys: list[str]) -> str:
    """The values of the differing keys outside ``anomaly`` (the setting the method runs in)."""
    names = _short_names(keys)
    return " ".join(row["config"][k] if k == LENGTH else f"{names[k]}={row['config'].get(k)}"
                    for k in sorted(keys, key=lambda k: k == LENGTH) if not k.startswith("anomaly."))  # length last


def annotate(rows: list[dict]) -> dict:
    """Give every row its ``context`` and ``setting`` label and check that no mean pools one seed twice.

    ``setting`` = method, the ``anomaly`` values that vary among the runs of that method, and the
    context (every other differing value). Returns ``{key: sorted values}`` of what differs.
    Raises :class:`DataError` naming the runs when two runs of one setting have the same seed.
    """
    keys = differing_keys(rows)
    for r in rows:
        r["context"] = _context(r, keys)
    varied = varied_axes(rows)
    for r in rows:
        own = varied[(r["dataset"], r["method"], r["context"])]
        r["setting"] = " ".join([r["method"], *(f"{_name(k)}={r['config'].get(k)}" for k in own),
                                 *([f"[{r['context']}]"] if r["context"] else [])])
    seen = {}
    for r in rows:
        key = (r["dataset"], r["setting"], str(r["seed"]))
        if key in seen:
            raise DataError(f"{seen[key]} and {r['run']}: the same setting and seed {r['seed']}; a mean over seeds "
                            "would count it twice (report one of them, or make them differ in a setting)")
        seen[key] = r["run"]
    differs = {"method": sorted({r["method"] for r in rows})} if len({r["method"] for r in rows}) > 1 else {}
    return {**differs, **{k: sorted({str(r["config"].get(k)) for r in rows}) for k in keys if not _defines_method(k)}}


def _defines_method(key: str) -> bool:
    """``anomaly._target_``/``anomaly.name`` (and those of ``anomaly.types.*``): shown as the method."""
    return key.startswith("anomaly.") and key.rsplit(".", 1)[-1] in ("_target_", "name")


def varied_axes(rows: list[dict]) -> dict[tuple, list[str]]:
    """Per (dataset, method, context): the ``anomaly`` config keys that take more than one value."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["method"], r.get("context", ""))].append(r)
    return {key: [k for k in differing_keys(rs) if k.startswith("anomaly.") and not _defines_method(k)]
            for key, rs in groups.items()}


def _nanmean(values) -> float:
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def summarize(rows: list[dict]) -> list[dict]:
    """Mean, std (ddof 1) and count over seeds per (dataset, setting, protocol); missing values (None, NaN)
    are skipped; a mean of no value and a std of fewer than two are None.

    ``rows`` must have been through :func:`annotate` (their ``setting``)."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["setting"])].append(r)
    out = []
    for (dataset, setting), rs in groups.items():
        for protocol in PROTOCOLS:
            values = np.array([r[f"auc_{protocol}"] for r in rs], float)
            values = values[~np.isnan(values)]
            out.append({"dataset": dataset, "setting": setting, "protocol": protocol, "n": len(values),
                        "mean": float(values.mean()) if len(values) else None,   # None: an empty cell
                        "std": float(values.std(ddof=1)) if len(values) > 1 else None,
                        "seeds": " ".join(sorted(str(r["seed"]) for r in rs))})
    return out


def _cell(s: dict) -> str:
    if not s["n"]:
        return "—"
    std = f" ± {100 * s['std']:.2f}" if s["n"] > 1 else ""
    return f"{100 * s['mean']:.2f}{std} (n={s['n']})"


def markdown(summary: list[dict], differs: dict | None = None) -> str:
    """One Table-1-shaped table per selection protocol: settings as rows, datasets as columns, then
    ``differs`` (config key -> values) as the list of what differs between the settings."""
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
        if protocol == "oracle" and any(s["n"] < len(s["seeds"].split()) for s in cells.values()):
            lines += [ORACLE_NOTE, ""]
    if differs:
        lines += ["## What differs between the settings", "",
                  "Runs are pooled only where every value below is equal; the seed is the only value averaged over.", ""]
        lines += [f"- `{key}`{f' ({_name(key)})' if _name(key) != key else ''}: {', '.join(values)}"
                  for key, values in differs.items()]
        lines.append("")
    return "\n".join(lines)


def _plot_sweeps(rows: list[dict], out: Path) -> list[Path]:
    written = []
    contexts = sorted({r["context"] for r in rows})
    for (dataset, method, context), keys in varied_axes(rows).items():
        same = [r for r in rows if r["dataset"] == dataset and r["context"] == context]  # comparable runs only
        baseline = [r for r in same if r["method"] == "baseline"]
        mine = [r for r in same if r["method"] == method]
        for key in keys:
            axis = _name(key)
            values = sorted({r["config"].get(key) for r in mine}, key=lambda v: (len(str(v)), str(v)))
            curves, hlines = {}, {}
            for protocol in PROTOCOLS:
                per = [np.array([r[f"auc_{protocol}"] for r in mine if r["config"].get(key) == v], float)
                       for v in values]
                if all(np.isnan(a).all() for a in per):
                    continue
                curves[f"{method} ({protocol})"] = (values, [_nanmean(a) for a in per], [_std(a) for a in per])
                base = np.array([r[f"auc_{protocol}"] for r in baseline], float)
                if len(base) and not np.isnan(base).all():
                    hlines[f"baseline ({protocol})"] = _nanmean(base)
            numeric = all(_is_number(v) for v in values)
            suffix = f"_{contexts.index(context)}" if len(contexts) > 1 else ""
            path = out / f"auc_vs_{axis}_{dataset}_{method}{suffix}.png"
            title = f"{dataset}: {method}" + (f"\n{context}" if context else "")
            plot_curves(path, curves, xlabel=axis, ylabel="frame-level AUC", title=title,
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
    for dataset in sorted({r["dataset"] for r in rows}):
        curves = {}
        for r in rows:
            epochs = read_epoch_table(Path(r["run"])) if r["dataset"] == dataset else None
            if epochs:
                label = f"{r['setting']} seed={r['seed']}"
                curves[label] = ([e["epoch"] for e in epochs], [e["auc_micro"] for e in epochs])
        if curves:
            path = out / f"auc_per_epoch_{dataset}.png"
            plot_curves(path, curves, xlabel="epoch", ylabel="frame-level AUC", title=f"{dataset}: AUC per epoch")
            written.append(path)
    return written


def report(paths: list[Path], out: Path) -> dict:
    """Write ``runs.csv``, ``table.csv``, ``report.md`` and the plots into ``out``; returns what it wrote."""
    rows = [read_run(run) for run in find_runs(paths)]
    differs = annotate(rows)
    summary = summarize(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "runs.csv", RUN_FIELDS, rows)
    write_csv(out / "table.csv", ["dataset", "setting", "protocol", "mean", "std", "n", "seeds"], summary)
    write_text(out / "report.md", markdown(summary, differs))
    plots = _plot_sweeps(rows, out) + _plot_epochs(rows, out)
    return {"runs": rows, "summary": summary, "differs": differs, "plots": plots}

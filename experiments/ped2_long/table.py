"""The long Ped2 study's tables and plot, from the recorded per-epoch metrics (``runs/<method>/seed<S>/epochs/``).

Two protocols, per epoch E (0-based, as ``epochNNN.ckpt``):

- ``last``: the AUC of the model after epoch E (no test labels used; at the study's last epoch, the headline);
- ``oracle``: the best AUC of epochs 0..E on the test set, as the paper selected its epochs (comparison only).

Per method and epoch: mean ± std (ddof 1) over the seeds that reached E; per epoch, skip − baseline under both
protocols with Welch's t-test and its 95% interval (where both have at least 2 seeds); the mechanism measure
(gap = PSNR normal foreground − PSNR anomalies, dB) the same way. The size of the selection effect is oracle −
last per method. Written as ``results.json``, ``results.md`` and ``curves.png``.

    python experiments/ped2_long/run.py table            # or: python experiments/ped2_long/table.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
METRICS = ("auc_micro", "auc_macro", "pixel_auc")


def load_runs(runs: Path) -> dict[str, dict[int, list[dict]]]:
    """``{method: {seed: [per-epoch rows, in epoch order]}}``; each row ``epoch``, the AUCs (%), ``gap_db`` and
    the region PSNRs where recorded."""
    out: dict[str, dict[int, list[dict]]] = {}
    for path in sorted(runs.glob("*/seed*/epochs/epoch*.json")):
        method, seed = path.parents[2].name, int(path.parents[1].name.removeprefix("seed"))
        m = json.loads(path.read_text())
        mech = m.get("mechanism") or {}
        row = {"epoch": int(m["epoch"]), **{k: 100 * m[k] for k in METRICS if m.get(k) is not None},
               **{k: mech[k] for k in ("gap_db", "anomaly_psnr", "foreground_psnr", "background_psnr") if k in mech}}
        out.setdefault(method, {}).setdefault(seed, []).append(row)
    for seeds in out.values():
        for rows in seeds.values():
            rows.sort(key=lambda r: r["epoch"])
    return out


def protocol_values(rows: list[dict], key: str = "auc_micro") -> tuple[np.ndarray, np.ndarray]:
    """A run's ``last`` (the value at each epoch) and ``oracle`` (the best of epochs 0..E) curves of ``key``;
    epochs must be 0, 1, 2, ... without a gap."""
    epochs = [r["epoch"] for r in rows]
    if epochs != list(range(len(rows))):
        raise ValueError(f"epochs {epochs}: expected 0..{len(rows) - 1} without a gap")
    last = np.array([r[key] for r in rows], np.float64)
    return last, np.maximum.accumulate(last)


def welch(a: np.ndarray, b: np.ndarray) -> dict | None:
    """``a`` − ``b``: the difference of means, Welch's two-sided p and its 95% interval; None below 2 runs a side."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    t = stats.ttest_ind(a, b, equal_var=False)
    low, high = t.confidence_interval(0.95)
    return {"diff": float(a.mean() - b.mean()), "p": float(t.pvalue), "ci95": [float(low), float(high)]}


def summarise(runs: dict[str, dict[int, list[dict]]], treated: str = "skip", control: str = "baseline") -> dict:
    """Per method and epoch, mean ± std of both protocols and of the gap; per epoch, ``treated`` − ``control``."""
    curves: dict[str, dict[str, list[np.ndarray]]] = {}
    for method, seeds in runs.items():
        for seed in sorted(seeds):
            rows = seeds[seed]
            last, oracle = protocol_values(rows)
            gap = np.array([r.get("gap_db", np.nan) for r in rows], np.float64)
            for name, values in (("last", last), ("oracle", oracle), ("gap_db", gap)):
                curves.setdefault(method, {}).setdefault(name, []).append(values)
    summary = {"methods": {}, "tests": {}}
    for method, named in curves.items():
        summary["methods"][method] = {}
        for name, values in named.items():
            epochs = max(len(v) for v in values)
            cols = [np.array([v[e] for v in values if len(v) > e]) for e in range(epochs)]
            summary["methods"][method][name] = [
                {"epoch": e, "n": int(len(c)), "mean": float(np.nanmean(c)),
                 "std": float(np.nanstd(c, ddof=1)) if len(c) > 1 else None} for e, c in enumerate(cols)]
    if treated in curves and control in curves:
        for name in ("last", "oracle", "gap_db"):
            epochs = min(max(len(v) for v in curves[m][name]) for m in (treated, control))
            summary["tests"][name] = []
            for e in range(epochs):
                a = np.array([v[e] for v in curves[treated][name] if len(v) > e])
                b = np.array([v[e] for v in curves[control][name] if len(v) > e])
                summary["tests"][name].append({"epoch": e, "n": [int(len(a)), int(len(b))], "test": welch(a, b)})
    return summary


def selection_effect(summary: dict) -> dict:
    """Per method, at its last epoch: mean oracle − mean last (AUC points): what choosing the epoch on the
    test set adds over the model training ends with."""
    out = {}
    for method, named in summary["methods"].items():
        last, oracle = named["last"][-1], named["oracle"][-1]
        out[method] = {"epoch": last["epoch"], "n": last["n"], "last": last["mean"], "oracle": oracle["mean"],
                       "oracle_minus_last": oracle["mean"] - last["mean"]}
    return out


def kind_check(runs: dict, other: dict, key: str = "auc_micro") -> dict:
    """The same method, seed and code trained on two CPU kinds (``runs`` vs ``other``, e.g. bf16 vs an AVX2
    CPU's fp32): per run, the epochs both reached, both values of ``key`` and their difference; ``mean_abs``
    and ``max_abs`` over all of them. Says how much a change of CPU kind moves one trajectory."""
    rows = []
    for method in sorted(set(runs) & set(other)):
        for seed in sorted(set(runs[method]) & set(other[method])):
            for ra, rb in zip(runs[method][seed], other[method][seed]):
                if ra["epoch"] != rb["epoch"]:
                    break
                rows.append({"method": method, "seed": seed, "epoch": ra["epoch"], "this": ra[key],
                             "other": rb[key], "diff": ra[key] - rb[key]})
    if not rows:
        return {"rows": []}
    diffs = np.abs([r["diff"] for r in rows])
    return {"rows": rows, "mean_abs": float(diffs.mean()), "max_abs": float(diffs.max())}


def _cell(entry: dict, digits: int = 2) -> str:
    if entry["std"] is None:
        return f"{entry['mean']:.{digits}f} (n={entry['n']})"
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f} (n={entry['n']})"


def markdown(summary: dict) -> str:
    """The README's tables: per epoch and method, both protocols and the gap; then skip − baseline per epoch."""
    methods = sorted(summary["methods"])
    lines = ["| epoch | " + " | ".join(f"{m} last | {m} oracle | {m} gap (dB)" for m in methods) + " |",
             "|---|" + "---|" * (3 * len(methods))]
    epochs = max(len(summary["methods"][m]["last"]) for m in methods)
    for e in range(epochs):
        cells = []
        for m in methods:
            for name in ("last", "oracle", "gap_db"):
                rows = summary["methods"][m][name]
                cells.append(_cell(rows[e]) if e < len(rows) else "")
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    if "selection_effect" in summary:
        lines += ["", "Selection effect at each method's last epoch (mean oracle − mean last, AUC points): " + "; ".join(
            f"{m} {e['oracle_minus_last']:+.2f} (epoch {e['epoch']}, n={e['n']})"
            for m, e in sorted(summary["selection_effect"].items())) + "."]
    if summary["tests"] and not any(r["test"] for rows in summary["tests"].values() for r in rows):
        lines += ["", "skip − baseline: no test yet (Welch's test needs 2 seeds a side)."]
    elif summary["tests"]:
        lines += ["", "| epoch | protocol | skip − baseline | 95% CI | Welch p | seeds (skip, baseline) |",
                  "|---|---|---|---|---|---|"]
        for name in ("last", "oracle", "gap_db"):
            for row in summary["tests"][name]:
                t = row["test"]
                diff = f"{t['diff']:+.2f}" if t else "—"
                ci = f"{t['ci95'][0]:+.2f} to {t['ci95'][1]:+.2f}" if t else "needs 2 seeds a side"
                lines.append(f"| {row['epoch']} | {name} | {diff} | {ci} | {t['p']:.3f} |" if t else
                             f"| {row['epoch']} | {name} | {diff} | {ci} | — |")
                lines[-1] += f" {row['n'][0]}, {row['n'][1]} |"
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    """Mean curves with their spread (± std where 2+ seeds): AUC under both protocols, and the gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (auc, gap) = plt.subplots(1, 2, figsize=(11, 4))
    for i, method in enumerate(sorted(summary["methods"])):
        colour = f"C{i}"
        for name, style, ax in (("last", "-", auc), ("oracle", "--", auc), ("gap_db", "-", gap)):
            rows = summary["methods"][method][name]
            x = np.array([r["epoch"] for r in rows])
            mean = np.array([r["mean"] for r in rows])
            std = np.array([r["std"] if r["std"] is not None else np.nan for r in rows])
            ax.plot(x, mean, style, color=colour, marker="o", ms=3,
                    label=f"{method}" + (f" ({name})" if ax is auc else ""))
            if np.isfinite(std).any():
                ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, lw=0)
    auc.set(xlabel="epoch", ylabel="frame-level AUC micro (%)", title="AUC: last epoch vs best epoch so far")
    gap.set(xlabel="epoch", ylabel="PSNR normal foreground − anomalies (dB)", title="The mechanism: the gap")
    for ax in (auc, gap):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def kind_markdown(check: dict, this: str, other: str) -> str:
    """The CPU-kind check as a table: per run and epoch, AUC micro (%) here and there, and the difference."""
    if not check["rows"]:
        return ""
    lines = [f"| run | epoch | {this} | {other} | difference |", "|---|---|---|---|---|"]
    lines += [f"| {r['method']} {r['seed']} | {r['epoch']} | {r['this']:.2f} | {r['other']:.2f} | {r['diff']:+.2f} |"
              for r in check["rows"]]
    lines.append(f"\nMean absolute difference {check['mean_abs']:.2f}, largest {check['max_abs']:.2f} AUC points.")
    return "\n".join(lines) + "\n"


def table(runs: Path = HERE / "runs", out: Path = HERE, other: Path | None = HERE / "runs_avx2_fp32") -> dict:
    """``results.json``, ``results.md`` and ``curves.png`` from ``runs``; with ``other`` (the same runs on
    another CPU kind), the CPU-kind check too."""
    loaded = load_runs(runs)
    if not loaded:
        raise SystemExit(f"error: {runs}: no recorded epochs (runs/<method>/seed<S>/epochs/epochNNN.json); "
                         "collect them first: python experiments/ped2_long/run.py collect --out RUNS")
    summary = summarise(loaded)
    summary["selection_effect"] = selection_effect(summary)
    text = markdown(summary)
    if other is not None and other.is_dir():
        summary["cpu_kind_check"] = kind_check(loaded, load_runs(other))
        kinds = kind_markdown(summary["cpu_kind_check"], f"{runs.name}/", f"{other.name}/")
        if kinds:
            text += "\nThe same seeds and code on two CPU kinds (AUC micro, %):\n\n" + kinds
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(text)
    plot(summary, out / "curves.png")
    print(text)
    return summary


if __name__ == "__main__":
    table()

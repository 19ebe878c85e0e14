"""The plots a user reads: legends, titles, ticks and line styles, checked on the matplotlib figures."""
from __future__ import annotations

import numpy as np
import pytest

from lnta.reporting import plots


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions would save (still open), instead of PNG files."""
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    yield saved
    for fig in saved:
        plots.plt.close(fig)


def test_scores_png_has_a_ground_truth_legend_and_the_run_in_its_title(figures, tmp_path):
    frames = np.arange(20)
    plots.plot_video_scores(tmp_path / "s.png", np.zeros(20, int), frames, frames / 19, (frames > 9).astype(int),
                            ["01"], title="run5: AUC micro 0.8833, macro 0.8542")
    [fig] = figures
    assert fig._suptitle.get_text() == "run5: AUC micro 0.8833, macro 0.8542"
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["anomaly score (per-video min-max)",
                                                          "ground truth: anomalous frames"]


def test_epoch_axes_get_integer_ticks_and_last_is_drawn_above_oracle(figures, tmp_path):
    curves = {"patch (last)": ([0, 1, 2], [0.8, 0.81, 0.82], [0.01, 0.01, 0.01]),
              "patch (oracle)": ([0, 1, 2], [0.8, 0.81, 0.82], [0.01, 0.01, 0.01])}  # identical: last must show
    plots.plot_curves(tmp_path / "c.png", curves, xlabel="epoch", ylabel="AUC", hlines={"baseline (last)": 0.8})
    [fig] = figures
    ax = fig.axes[0]
    ax.set_xlim(-0.3, 2.3)
    fig.canvas.draw()
    ticks = ax.get_xticks()
    assert np.allclose(ticks, np.round(ticks))
    lines = {container.get_label(): container.lines[0] for container in ax.containers}  # errorbar's data lines
    last, oracle = lines["patch (last)"], lines["patch (oracle)"]
    assert last.get_zorder() > oracle.get_zorder()
    assert (last.get_linestyle(), last.get_marker()) != (oracle.get_linestyle(), oracle.get_marker())


def test_stream_timeline_has_no_minmax_panel(figures, tmp_path):
    frames = np.arange(30)
    plots.plot_score_timeline(tmp_path / "t.png", "cam", frames, None, np.sin(frames), threshold=0.5)
    plots.plot_score_timeline(tmp_path / "t2.png", "cam", frames, frames / 29, np.sin(frames), threshold=0.5)
    assert [len(fig.axes) for fig in figures] == [1, 2]

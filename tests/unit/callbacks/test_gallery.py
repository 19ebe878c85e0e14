"""Pictures of the pseudo anomalies: the grid rows and the start-of-training callback."""
from types import SimpleNamespace

import numpy as np
import pytest

import torch
from PIL import Image

from lnta.anomaly import PatchAnomaly, SkipFrame
from lnta.callbacks.gallery import PseudoAnomalyImages, frame_columns, pseudo_examples


class ImageLogger:
    def __init__(self):
        self.logged = []

    def log_image(self, key, images):
        self.logged.append((key, images))


def _batch():
    clips = torch.randint(0, 256, (2, 1, 16, 32, 32), dtype=torch.uint8)
    return {"clip": clips, "skip_clip": clips.flip(2), "skip_target": clips}


def test_pseudo_examples_rows():
    torch.manual_seed(0)
    batch = _batch()
    kinds = [PatchAnomaly(1.0, "cutmix", alpha=1.0, intruder={"source": "synthetic"}, name="cutmix"),
             SkipFrame(1.0, name="skip-frame")]
    rows = pseudo_examples(kinds, batch, sample=1)
    assert [label for label, _ in rows] == ["normal", "cutmix", "skip-frame"]
    normal = batch["clip"][1, 0].float() / 127.5 - 1
    assert torch.equal(torch.from_numpy(rows[0][1]), normal)
    assert torch.equal(torch.from_numpy(rows[2][1]), normal.flip(0))
    assert frame_columns(16) == [0, 5, 10, 15]
    batch["skip"] = torch.tensor([2, 4])  # the s drawn per clip: the skip row says it
    assert [label for label, _ in pseudo_examples(kinds, batch, sample=1)][2] == "skip-frame\ns=4"


def test_callback_writes_logs_and_leaves_training_draws_unchanged(tmp_path):
    module = SimpleNamespace(anomalies=[PatchAnomaly(1.0, intruder={"source": "synthetic"})])
    logger = ImageLogger()
    trainer = SimpleNamespace(is_global_zero=True, loggers=[logger])
    callback = PseudoAnomalyImages(str(tmp_path))
    torch.manual_seed(5)
    callback.on_train_batch_start(trainer, module, _batch(), 0)
    after_callback = torch.rand(3)
    torch.manual_seed(5)
    _batch()
    assert torch.equal(torch.rand(3), after_callback)                 # the callback forked the RNG
    png = tmp_path / "pseudo_anomalies.png"
    assert Image.open(png).size[0] > 300
    assert logger.logged == [("pseudo_anomalies", [str(png)])]
    callback.on_train_batch_start(trainer, module, _batch(), 1)
    assert len(logger.logged) == 1                                     # only once


@pytest.mark.parametrize("n_rows", [1, 3, 10])
def test_the_grid_title_does_not_overlap_the_column_headers(tmp_path, monkeypatch, n_rows):
    """Issue 25 item 7: tight_layout ignores a suptitle, so lnta.visualize's title was drawn over 'frame 0'..."""
    import matplotlib.pyplot as plt

    from lnta.callbacks.gallery import save_grid

    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    rows = [(f"row {r}", np.zeros((16, 32, 32), np.float32)) for r in range(n_rows)]
    save_grid(tmp_path / "grid.png", rows, [0, 5, 10, 15],
              title="synthetic: a training clip and its pseudo anomalies, intruder synthetic textures")
    fig = figures[0]
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    headers = [ax.title.get_window_extent(renderer) for ax in fig.axes[:4]]
    assert all(title.y0 >= h.y1 for h in headers), (title, headers)
    assert title.y1 <= fig.bbox.height  # and the title is inside the figure
    plt.close(fig)

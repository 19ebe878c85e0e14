"""Callbacks that record what a real CLI run did, for tests to read (added like the fault injectors:
``+callbacks.probe._target_=tests.helpers.probes.TrainData +callbacks.probe.path=FILE``)."""
import json

import pytorch_lightning as pl


class TrainData(pl.Callback):
    """At the start of training, write to ``path`` how the data module serves training clips: its
    dataset class and whether the frames live on the training device."""

    def __init__(self, path: str):
        self.path = path

    def on_train_start(self, trainer, pl_module):
        dm = trainer.datamodule
        with open(self.path, "w") as f:
            json.dump({"dataset": type(dm.train_set).__name__, "device_frames": dm.device_frames is not None}, f)

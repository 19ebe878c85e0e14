"""``python -m lnta.eval ckpt_path=FILE|FOLDER``: test one checkpoint, or every epoch checkpoint of a run."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from lnta.cli._entry import entry_point
from lnta.errors import ConfigError, DataError
from lnta.cli.settings import check_eval_config

log = logging.getLogger("lnta.eval")
EPOCH_CKPT = re.compile(r"epoch(\d+)\.ckpt$")


def _speed(cfg: DictConfig, checkpoint: dict):
    from lnta.trainer.checkpoint import CONFIG_KEY  # here, not at the top: ``--help`` stays fast
    from lnta.trainer.precision import inference_compile_of, precision_of, speed_from_config

    trained = checkpoint[CONFIG_KEY]
    return speed_from_config(cfg, precision_of(cfg.get("precision"), trained),
                             inference_compile_of(cfg.get("inference_compile"), trained), trained["data"]["image_size"])


def _data_config(cfg: DictConfig, trained: dict) -> tuple[DictConfig, bool]:
    """The test data's config and whether it is the checkpoint's: a data group given (``data=ped2``, a
    ``_target_``) replaces the checkpoint's; otherwise the keys set under ``data`` (``data.labels=FILE``,
    ``+data.root=DIR``; null ones are unset) change the checkpoint's data config."""
    given = cfg.get("data")
    if given is not None and "_target_" in given:
        return given, False
    data_cfg = OmegaConf.create(trained["data"])
    changes = {k: v for k, v in OmegaConf.to_container(given or {}, resolve=True).items() if v is not None}
    return OmegaConf.merge(data_cfg, changes), "root" not in changes


def _datamodule(cfg: DictConfig, trained: dict, eval_batch_scale: int, output_dir: Path):
    """The test data (:func:`_data_config`). A checkpoint's synthetic data are generated into this command's
    output folder unless its stored root holds them already: a stored config never makes lnta create or fill a
    folder of its choosing."""
    from lnta.data.synthetic import MARKER

    data_cfg, stored_root = _data_config(cfg, trained)
    if stored_root and str(data_cfg.get("_target_", "")).endswith("SyntheticDataModule") \
            and not (Path(str(data_cfg.root)) / MARKER).is_file():
        log.info("the checkpoint's synthetic data are not at %s; generating them into %s", data_cfg.root,
                 output_dir / "synthetic")
        data_cfg.root = str(output_dir / "synthetic")
    if data_cfg.get("image_size") != trained["data"]["image_size"]:
        raise ConfigError(f"data.image_size={data_cfg.get('image_size')}: the checkpoint was trained at "
                          f"{trained['data']['image_size']}")
    datamodule = hydra.utils.instantiate(data_cfg, eval_batch_scale=eval_batch_scale, _convert_="object")
    datamodule.prepare_data()  # on every rank, before a trainer is built: bad data is the first line printed
    return datamodule


def _test(cfg: DictConfig, checkpoint: dict, ckpt_path: Path, datamodule, output_dir: Path) -> dict:
    from lnta.metrics.calibration import CALIBRATION_KEY
    from lnta.metrics.evaluate import Evaluator
    from lnta.reporting.test_outputs import write_test_outputs
    from lnta.trainer.build import module_from_checkpoint
    from lnta.trainer.checkpoint import trained_position
    from lnta.trainer.compiled import compiled_last
    from lnta.trainer.precision import trainer_accelerator

    speed = _speed(cfg, checkpoint)
    evaluator = Evaluator.from_config(cfg.evaluation, datamodule.root)
    trainer = hydra.utils.instantiate(cfg.trainer, accelerator=trainer_accelerator(cfg.trainer.get("accelerator")),
                                      precision=speed.trainer_precision, callbacks=evaluator.callbacks,
                                      logger=False)
    module = module_from_checkpoint(checkpoint, datamodule.center, speed=speed, error_maps=evaluator.error_maps)
    trainer.test(module, datamodule=datamodule, verbose=False)
    epoch, global_step = trained_position(checkpoint)  # as training recorded them, not this trainer's
    split = datamodule.test_split()
    metrics, results = evaluator.compute(split, {
        "epoch": epoch, "global_step": global_step, "ckpt_path": str(ckpt_path.resolve()),
        "precision": speed.precision, "trainer_precision": speed.trainer_precision,
        "inference_compiled": compiled_last(module.test_forward)}, checkpoint.get(CALIBRATION_KEY))
    if trainer.is_global_zero:
        write_test_outputs(output_dir, metrics, results, split.names)
    return metrics


def epoch_checkpoints(folder: Path) -> list[Path]:
    """The ``epochNNN.ckpt`` files of a run folder or its ``checkpoints/``, in epoch order."""
    folder = folder / "checkpoints" if (folder / "checkpoints").is_dir() else folder
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := EPOCH_CKPT.search(p.name)))
    if not found:
        raise DataError(f"ckpt_path={folder}: no epochNNN.ckpt checkpoints in this folder")
    return [p for _, p in found]


def evaluate(cfg: DictConfig) -> dict | list[dict]:
    """Test ``cfg.ckpt_path`` on ``cfg.data`` (default: the data it was trained on).

    A folder (a run or its ``checkpoints/``) tests every epoch checkpoint and writes
    ``epochs.csv`` and ``epoch_metrics.json`` (AUC per epoch, ``last`` and ``oracle`` selections)
    into the run folder; each epoch's full outputs go to ``<output_dir>/epochNNN/``.
    """
    from lnta.reporting.test_outputs import write_epoch_table
    from lnta.trainer.checkpoint import CONFIG_KEY, load_checkpoint

    check_eval_config(cfg)
    path, output_dir = Path(cfg.ckpt_path).expanduser(), Path(cfg.paths.output_dir)
    if not path.is_dir():
        checkpoint = load_checkpoint(path)
        datamodule = _datamodule(cfg, checkpoint[CONFIG_KEY], _speed(cfg, checkpoint).eval_batch_scale, output_dir)
        metrics = _test(cfg, checkpoint, path, datamodule, output_dir)
        log.info("AUC micro %.4f  macro %.4f", metrics["auc_micro"], metrics["auc_macro"])
        return metrics
    files = epoch_checkpoints(path)
    run_dir = files[0].parent.parent if files[0].parent.name == "checkpoints" else files[0].parent
    datamodule, rows = None, []
    for file in files:
        checkpoint = load_checkpoint(file)
        datamodule = datamodule or _datamodule(cfg, checkpoint[CONFIG_KEY], _speed(cfg, checkpoint).eval_batch_scale,
                                               output_dir)
        rows.append(_test(cfg, checkpoint, file, datamodule, output_dir / file.stem))
        log.info("%s: AUC micro %.4f", file.name, rows[-1]["auc_micro"])
    write_epoch_table(run_dir, rows)
    return rows


@entry_point("eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()

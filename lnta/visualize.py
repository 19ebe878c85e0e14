"""``python -m lnta.visualize``: draw a normal clip beside its pseudo anomalies, as a PNG grid."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lnta.cli._entry import entry_point
from lnta.errors import ConfigError

log = logging.getLogger("lnta.visualize")


def visualize(cfg: DictConfig):
    """Every technique of ``cfg.techniques`` with the intruder of ``cfg.anomaly``, skip-frame, the
    temporal types of ``cfg.temporal`` and the noise patch."""
    import pytorch_lightning as pl  # here, not at the top: ``--help`` and imports stay fast

    from lnta.anomaly import NoiseBank, PatchAnomaly, RepeatFrames, ReverseClip, ShuffleClip, SkipFrame
    from lnta.callbacks.gallery import pseudo_examples, save_grid

    pl.seed_everything(cfg.seed)
    if "intruder" not in cfg.anomaly:
        raise ConfigError("anomaly: lnta.visualize needs a patch config (anomaly=patch) for its intruder settings")
    skip = SkipFrame(1.0, cfg.skips, name="skip-frame") if cfg.skips else None
    datamodule = hydra.utils.instantiate(cfg.data, clip_rules=[skip.clip_rule()] if skip else [], _convert_="object")
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    if not 0 <= cfg.sample < len(batch["clip"]):
        raise ConfigError(f"sample={cfg.sample}: expected an index below the batch size {len(batch['clip'])}")
    first = hydra.utils.instantiate(cfg.anomaly, p=1.0, _convert_="object")
    bank = first.augment.intruders
    kinds = [PatchAnomaly(1.0, t, cfg.anomaly.alpha, cfg.anomaly.beta, intruder=bank, name=t)
             for t in cfg.techniques]
    if skip:
        kinds.append(skip)
    temporal = {"reverse": ReverseClip, "repeat": lambda p: RepeatFrames(p, cfg.repeats), "shuffle": ShuffleClip}
    for name in cfg.temporal or []:
        if name not in temporal:
            raise ConfigError(f"temporal={name!r}: expected names from {', '.join(temporal)}")
        kinds.append(temporal[name](1.0))
    if cfg.noise_sigma:
        kinds.append(PatchAnomaly(1.0, "smoothmix_s", cfg.anomaly.alpha, cfg.anomaly.beta,
                                  intruder=NoiseBank(cfg.noise_sigma), name="noise"))
    intruder = cfg.anomaly.intruder
    fallback = intruder.source == "auto" and not (intruder.path and Path(intruder.path).expanduser().exists())
    source = ("synthetic textures" if intruder.source == "synthetic" or fallback
              else f"{Path(intruder.path).name} ({intruder.split})")
    path = save_grid(cfg.out, pseudo_examples(kinds, batch, cfg.sample), cfg.frames,
                     title=f"{cfg.data.name}: a training clip and its pseudo anomalies, intruder {source}")
    log.info("wrote %s", path)
    return path


@entry_point("visualize")
def main(cfg: DictConfig) -> None:
    visualize(cfg)


if __name__ == "__main__":
    main()

"""The numeric rules of the ``data`` config group, beside its code (checked by every command, :mod:`lnta.cli.settings`)."""
from lnta.validate import COUNT, NATURAL, SEED, Range

RANGES = {
    "data.batch_size": COUNT, "data.eval_batch_size": COUNT, "data.num_workers": NATURAL,
    "data.device_memory_fraction": Range(integer=False, low=0, high=1, open_low=True),
    "data.eval_batch_scale": COUNT, "data.shuffle_seed": SEED,
    "data.image_size": Range(low=1, high=2048, items=True), "data.clip_len": COUNT, "data.center": NATURAL,
    # the synthetic generator (lnta/data/synthetic.py)
    "data.seed": SEED, "data.size": Range(low=8), "data.train_videos": COUNT, "data.test_videos": COUNT,
    "data.frames_per_video": COUNT,
    # data=folder (lnta/data/folder.py): >= 0 here; whole numbers or fractions below 1 only, by check_holdout there
    "data.holdout": Range(integer=False, low=0),
}

"""Issue 23 through the real CLIs: lnta deletes only what it created and marked as its own, a crafted
checkpoint cannot delete or fill a folder, and an unwritable log file is one line."""
import pytest
import torch

from tests.conftest import one_error, run_cli, tiny_overrides

pytestmark = pytest.mark.slow


def _victim(folder):
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "mine.avi").write_bytes(b"a user's data")
    return folder


def _intact(folder) -> bool:
    return sorted(p.name for p in folder.rglob("*")) == ["mine.avi", "videos"] and \
        (folder / "videos" / "mine.avi").read_bytes() == b"a user's data"


def test_train_on_a_users_folder_without_data_group_keeps_it(tmp_path):
    """Item 1: the default data group is synthetic; data.root naming a real dataset used to be wiped."""
    victim = _victim(tmp_path / "my_dataset")
    tiny = [o for o in tiny_overrides(tmp_path) if not o.startswith("data.root")]
    line = one_error(run_cli("lnta.train", *tiny, f"data.root={victim}", check=False))
    assert line.startswith(f"error: data.root={victim}: holds files but no synthetic.json"), line
    assert _intact(victim)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    run_cli("lnta.train", *tiny_overrides(tmp, tmp / "run"))
    return torch.load(tmp / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def _crafted(trained, tmp_path, **data) -> str:
    checkpoint = {**trained, "lnta_config": {**trained["lnta_config"],
                                             "data": {**trained["lnta_config"]["data"], **data}}}
    path = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, path)
    return str(path)


def test_a_checkpoint_naming_a_users_folder_cannot_touch_it(tmp_path, trained):
    """Item 2: SyntheticDataModule is on the checkpoint allow-list; its stored data.root was deleted. A stored
    root that does not hold lnta's generated data is never written: the data are generated into the eval's own
    output folder, and the folder the checkpoint names stays as it was."""
    victim = _victim(tmp_path / "victim")
    ckpt = _crafted(trained, tmp_path, root=str(victim))
    result = run_cli("lnta.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert f"generating them into {tmp_path / 'eval' / 'synthetic'}" in result.stdout + result.stderr
    assert _intact(victim) and sorted(p.name for p in victim.iterdir()) == ["videos"]
    assert (tmp_path / "eval" / "synthetic" / "synthetic.json").is_file() and (tmp_path / "eval" / "metrics.json").is_file()
    nowhere = tmp_path / "nowhere" / "synthetic"  # a path that does not exist yet is not created either
    run_cli("lnta.eval", f"ckpt_path={_crafted(trained, tmp_path, root=str(nowhere))}", f"hydra.run.dir={tmp_path / 'e2'}")
    assert not (tmp_path / "nowhere").exists()


def test_a_checkpoint_cannot_fill_a_disk(tmp_path, trained):
    """Item 2: train_videos=1e9 in a stored config wrote 833 MB before it was killed."""
    target = tmp_path / "target" / "synthetic"
    ckpt = _crafted(trained, tmp_path, root=str(target), train_videos=1_000_000_000)
    line = one_error(run_cli("lnta.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}", check=False))
    assert "data.train_videos=1000000000: expected an integer in [1, 10000]" in line
    assert not (tmp_path / "target").exists()


def test_an_unwritable_log_file_is_one_line(tmp_path):
    """Item 10: a read-only run dir made Hydra's log handler fail with a traceback (here the log path is
    a folder, which fails the same way when running as root, where permissions do not stop a write)."""
    run = tmp_path / "run"
    (run / "train.log").mkdir(parents=True)
    line = one_error(run_cli("lnta.train", *tiny_overrides(tmp_path, run), check=False))
    assert line == (f"error: {run / 'train.log'}: cannot write the command's log file (Is a directory); "
                    "choose a writable hydra.run.dir")

"""--help shows each experiment's whole description, wrapped under its name."""
from lnta.cli.help import CONF_DIR, WIDTH, _header, command_help


def test_experiment_descriptions_are_whole_and_wrapped():
    text = command_help("train")
    section = text.split("Experiments (+experiment=NAME):\n")[1].split("\n\n")[0].splitlines()
    assert all(len(line) <= WIDTH for line in section)
    entries, current = {}, None  # name -> its description, continuation lines joined
    for line in section:
        if line.startswith("  ") and not line.startswith(" " * 26):
            current, _, about = line.strip().partition(" ")
            entries[current] = about.strip()
        else:
            entries[current] += " " + line.strip()
    names = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    assert sorted(entries) == names
    for name in names:
        whole = " ".join(_header((CONF_DIR / "experiment" / f"{name}.yaml").read_text()))
        assert entries[name] == " ".join(whole.split()), name
    assert any(len(_header((CONF_DIR / "experiment" / f"{n}.yaml").read_text())) > 1 for n in names)  # multi-line ones

"""``--help`` of every Hydra command, built from the commented YAML files of ``conf/``.

``conf/hydra/default.yaml`` sets ``hydra.help.template: ${lnta_help:${hydra.job.config_name},...}``; the
text lists only what the command reads: its primary config (keys with their comments), the groups
of its defaults list with their options, the experiments for ``train``, and each default group
file's keys with their comments.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from omegaconf import OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
#: Groups added with ``+GROUP=NAME`` that a command understands beyond its defaults list.
EXTRA_GROUPS = {"train": {"experiment": "an experiment: data, model, pseudo anomalies and length together",
                          "sweep": "a multirun of the paper's tables and figures (conf/sweep/)",
                          "scale": "a reduced scale, e.g. cpu64 for CPUs"}}
#: Width of the help text; an experiment's description wraps under itself, never cut.
WIDTH = 100


def _header(text: str) -> list[str]:
    """The leading comment lines of a YAML file, without ``#`` and ``@package`` lines."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            lines.append(line.lstrip("#").strip())
    return lines


def _body(text: str) -> list[str]:
    """The keys of a YAML file with their comments: the file without its header and defaults list."""
    out, in_defaults, started = [], False, False
    for line in text.splitlines():
        if not started and (line.startswith("#") or not line.strip()):
            continue
        started = True
        if line.startswith("defaults:"):
            in_defaults = True
            continue
        if in_defaults and (line.startswith((" ", "-")) or not line.strip()):
            continue
        in_defaults = False
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _defaults(config_name: str) -> list[tuple[str, str | None]]:
    """``(group, option)`` of a primary config's defaults list, without ``hydra`` and ``_self_``."""
    pairs = []
    for entry in OmegaConf.load(CONF_DIR / f"{config_name}.yaml").get("defaults", []):
        if isinstance(entry, str) or not OmegaConf.is_dict(entry):
            continue
        for group, option in entry.items():
            if group.lstrip("+/") not in ("hydra", "_self_"):
                pairs.append((group.lstrip("+/"), option))
    return pairs


def command_help(config_name: str, choices=None) -> str:
    """The help text of ``python -m lnta.<config_name>`` (plain text, ``$`` doubled for Hydra's template).

    ``choices`` (``hydra.runtime.choices``): the group options of this command line, so that
    ``anomaly=patch --help`` shows the keys of ``anomaly/patch.yaml``."""
    primary = (CONF_DIR / f"{config_name}.yaml").read_text()
    chosen = dict(choices or {})
    defaults = [(group, chosen.get(group, option)) for group, option in _defaults(config_name)]
    extras = EXTRA_GROUPS.get(config_name, {})
    usage = f"python -m lnta.{config_name}" + (" [+experiment=NAME]" if "experiment" in extras else "")
    usage += " [GROUP=OPTION ...]" if defaults else ""
    lines = [*_header(primary), "", f"Usage: {usage} [KEY=VALUE ...]   (also: lnta-{config_name})", ""]
    if "experiment" in extras:
        lines += ["Experiments (+experiment=NAME):"]
        for name in _options("experiment"):
            about = " ".join(_header((CONF_DIR / "experiment" / f"{name}.yaml").read_text()))
            lines += textwrap.wrap(about, WIDTH, initial_indent=f"  {name:<23} ", subsequent_indent=" " * 26,
                                   break_on_hyphens=False) or [f"  {name}"]
        lines.append("")
    if defaults or extras:
        lines.append("Config groups (GROUP=OPTION; the one in use in brackets):")
        for group, option in defaults:
            options = [f"[{o}]" if o == option else o for o in _options(group)]
            lines.append(f"  {group:<12}{' | '.join(options)}" + ("  (default: none)" if option is None else ""))
        for group, what in extras.items():
            if group != "experiment":
                lines += [f"  +{group:<11}{what}:", f"  {'':<12}{' | '.join(_options(group))}"]
        lines.append("")
    lines += [f"Keys of {config_name} (KEY=VALUE; # what each means):", *(f"  {line}" for line in _body(primary)), ""]
    for group, option in defaults:
        if option is None:
            continue
        body = _body((CONF_DIR / group / f"{option}.yaml").read_text())
        if body:
            lines += [f"Keys of {group} ({group}/{option}.yaml; override as {group}.KEY=VALUE):",
                      *(f"  {line}" for line in body), ""]
    lines += ["Hydra: --cfg job prints the composed config, -m runs a multirun, --hydra-help shows Hydra's options."]
    return "\n".join(lines).replace("$", "$$")


def register_resolver() -> None:
    """``${lnta_help:NAME,CHOICES}`` for ``hydra.help.template``."""
    if not OmegaConf.has_resolver("lnta_help"):
        OmegaConf.register_new_resolver("lnta_help", command_help)

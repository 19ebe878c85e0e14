"""GPU readiness check (issue 15, item 3): one run that prints a table of what works on this machine and how fast.

Usage (from anywhere; ``run.sh`` beside this file is the wrapper)::

    gpu_check.py (--data ROOT | --synthetic) [--size 256] [--budget-s 240] [--out DIR] [--tiny] ...
    gpu_check.py subset --src PED2_ROOT --dst DIR [--train 4] [--test 2]   # a Ped2 subset small enough to carry

Steps, each a subprocess with its own timeout (a failure is a FAILED row; the check goes on):
``env`` (imports, device), ``data`` (synthetic data generated if asked; the uint8 cache built once, so
later steps do not decode again), ``bench_b4`` / ``bench_b32`` (``python -m lnta.bench`` at batch 4 and
32; ``fast`` figures, ``exact`` beside them), ``on_device`` (a short ``data.on_device=true`` training run:
are the frames on the device?), ``ddp`` (``trainer=ddp trainer.devices=1``, short, then its test),
``train`` (Ped2 skip-frame for as many whole epochs as fit in ``--budget-s``), ``eval`` (``python -m
lnta.eval`` on its ``last.ckpt``), ``compile`` (``torch.compile`` against eager for the training step, which lnta
never compiles, so the step is timed directly here; testing's ``inference_compile`` is ``auto``, i.e.
off, on a GPU) and ``estimate`` (60 Ped2 epochs from the
measured throughput, against the goal of 5 minutes on one H200 with on-device data).

The whole check stops starting steps after ``--total-s`` seconds and shortens the training budget so
that the steps after it still fit. Writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out``
(logs in ``--out/logs``, runs in ``--out/runs``). Exit status 0 when every row is ok, 1 otherwise,
2 for bad arguments. Only the standard library is imported here; torch and lnta run in the steps.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
from lnta.io import write_json, write_text  # noqa: E402 - lnta.io is standard library only

CLOCK_FILE = "gpu_check_clock.json"  # written by gpu_check_clock.EpochClock
#: The goal of issue 15: 60 Ped2 epochs in at most this many seconds on one H200 with on-device data.
GOAL_60_EPOCHS_S = 300.0
#: The paper's training length (epochs) for the estimate.
PAPER_EPOCHS = 60
STEPS = ("env", "data", "bench_b4", "bench_b32", "on_device", "ddp", "train", "eval", "compile", "estimate")
#: Seconds kept free after the training step for the steps that follow it (start-up, eval, compile).
RESERVE_AFTER_TRAIN = {"full": 150.0, "tiny": 40.0}


@dataclass(frozen=True)
class Row:
    """One line of the table: ``status`` is ``ok`` or ``FAILED``; ``reason`` says why in one line."""

    step: str
    setting: str
    figure: float | None
    unit: str
    status: str = "ok"
    reason: str = ""

    def failed(self, reason: str) -> "Row":
        return Row(self.step, self.setting, None, self.unit, "FAILED", one_line(reason))


@dataclass
class Plan:
    """Every setting of one check, resolved from the arguments (``--tiny`` picks CPU smoke sizes)."""

    data: Path | None
    synthetic: bool
    out: Path
    tiny: bool
    size: int
    width: float
    budget_s: float
    total_s: float
    device: str
    compile_backend: str
    only: tuple[str, ...] = STEPS
    batch: int = 4
    short_steps: int = 60             # optimizer steps of the on_device and ddp runs
    warmup_batches: int = 10          # batches before the steady throughput is timed
    compile_repeats: int = 5
    synthetic_spec: dict = field(default_factory=dict)
    bench_flags: tuple[str, ...] = ()
    timeouts: dict = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "tiny" if self.tiny else "full"

    @property
    def data_root(self) -> Path:
        return self.data if self.data is not None else self.out / "data" / f"synthetic_{self.size}"

    @property
    def paper_scale(self) -> bool:
        return self.size == 256 and self.width == 1.0


def one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def parse_args(argv=None) -> Plan:
    """The check's arguments as a :class:`Plan`; bad values exit with status 2 and one line."""
    p = argparse.ArgumentParser(prog="experiments/gpu_check/run.sh", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="a frames-layout dataset root (e.g. a Ped2 subset: "
                     "training/frames/<video>/*.jpg, testing/frames/..., frame_labels*.npy)")
    src.add_argument("--synthetic", action="store_true", help="generate lnta's synthetic data at --size instead")
    p.add_argument("--size", type=int, help="frame side in pixels, a multiple of 16 (default 256, --tiny 32)")
    p.add_argument("--budget-s", type=float, help="training budget in seconds (default 240, --tiny 10)")
    p.add_argument("--total-s", type=float, help="no step starts after this many seconds (default 480, --tiny 300)")
    p.add_argument("--width", type=float, help="AE width (default 1.0, --tiny 0.125)")
    p.add_argument("--out", type=Path, default=Path("outputs/gpu_check"), help="output folder")
    p.add_argument("--tiny", action="store_true", help="CPU smoke sizes: 32x32, width 0.125, a few steps")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="default: cuda if available")
    p.add_argument("--compile-backend", help="torch.compile backend (default inductor, --tiny aot_eager)")
    p.add_argument("--only", help=f"comma-separated steps to run (default all: {','.join(STEPS)})")
    a = p.parse_args(argv)
    tiny = a.tiny
    size = a.size or (32 if tiny else 256)
    budget = a.budget_s if a.budget_s is not None else (10.0 if tiny else 240.0)
    total = a.total_s if a.total_s is not None else (300.0 if tiny else 480.0)
    width = a.width if a.width is not None else (0.125 if tiny else 1.0)
    only = tuple(s.strip() for s in a.only.split(",")) if a.only else STEPS
    if size < 16 or size % 16:
        p.error(f"--size {size}: expected a positive multiple of 16 (the AE downsamples H and W by 16)")
    if budget <= 0 or total <= 0 or width <= 0:
        p.error("--budget-s, --total-s and --width must be positive")
    if a.data is not None and not a.data.is_dir():
        p.error(f"--data {a.data}: folder not found (expected a frames-layout dataset root)")
    unknown = [s for s in only if s not in STEPS]
    if unknown:
        p.error(f"--only {a.only}: unknown steps {unknown}; expected some of {','.join(STEPS)}")
    plan = Plan(data=a.data.resolve() if a.data else None, synthetic=a.synthetic, out=a.out.resolve(), tiny=tiny,
                size=size, width=width, budget_s=budget, total_s=total, device=a.device,
                compile_backend=a.compile_backend or ("aot_eager" if tiny else "inductor"), only=only)
    if tiny:
        plan.short_steps, plan.warmup_batches, plan.compile_repeats = 6, 2, 1
        plan.synthetic_spec = {"size": size, "train_videos": 2, "test_videos": 2, "frames_per_video": 40}
        plan.bench_flags = ("--repeats", "1", "--loader-batches", "2", "--workers", "0", "--eval-batch", "2",
                            "--matmul-n", "64")
        plan.timeouts = {s: 120.0 for s in STEPS} | {"train": budget + 90.0}
    else:
        # 16 videos of 160 frames: 2320 training clips, about a Ped2 epoch (2310)
        plan.synthetic_spec = {"size": size, "train_videos": 16, "test_videos": 6, "frames_per_video": 160}
        plan.timeouts = {"env": 60.0, "data": 240.0, "bench_b4": 150.0, "bench_b32": 150.0, "on_device": 120.0,
                         "ddp": 150.0, "train": budget + 150.0, "eval": 150.0, "compile": 240.0, "estimate": 0.0}
    return plan


# ---------------------------------------------------------------- the table


def format_figure(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def status_text(row: Row) -> str:
    return row.status if not row.reason else f"{row.status}: {row.reason}"


def format_table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table (step, setting, figure, unit, status)."""
    cells = [("step", "setting", "figure", "unit", "status")]
    cells += [(r.step, r.setting, format_figure(r.figure), r.unit, status_text(r)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = []
    for k, c in enumerate(cells):
        lines.append("  ".join([c[0].ljust(widths[0]), c[1].ljust(widths[1]), c[2].rjust(widths[2]),
                                c[3].ljust(widths[3]), c[4]]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| step | setting | figure | unit | status |", "|---|---|---:|---|---|"]
    lines += [f"| {r.step} | {esc(r.setting)} | {format_figure(r.figure)} | {esc(r.unit)} | {esc(status_text(r))} |"
              for r in rows]
    return "\n".join(lines)


def failure_reason(log: str, rc: int | None, timed_out: bool, timeout_s: float) -> str:
    """One line on why a step's process failed: its timeout, lnta's ``error:`` line, an exception's
    last line, or the last line it printed."""
    if timed_out:
        return f"timed out after {timeout_s:.0f} s"
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return one_line(line)
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) and " " not in head:
            return one_line(line)
    return one_line(f"exit status {rc}: {lines[-1] if lines else 'no output'}")


def ped2_60_epoch_s(clips_per_s: float, ped2_clips: int, epoch_end_s: float = 0.0,
                    epochs: int = PAPER_EPOCHS) -> float:
    """Seconds for ``epochs`` Ped2 epochs of ``ped2_clips`` clips at ``clips_per_s``, plus the
    per-epoch work outside training (checkpoint, calibration) of ``epoch_end_s``."""
    return epochs * (ped2_clips / clips_per_s + epoch_end_s)


# ---------------------------------------------------------------- running steps


@dataclass
class Outcome:
    ok: bool
    reason: str
    seconds: float


class Check:
    """Runs the steps of a :class:`Plan` in order and collects their rows."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.start = time.monotonic()
        self.rows: list[Row] = []
        self.info: dict = {}
        self.device = "cpu" if plan.device == "cpu" else plan.device  # "auto" until env tells
        for sub in ("logs", "runs"):
            (plan.out / sub).mkdir(parents=True, exist_ok=True)

    # -- helpers
    def remaining(self) -> float:
        return self.plan.total_s - (time.monotonic() - self.start)

    def env(self) -> dict:
        path = os.pathsep.join([str(HERE), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}

    def run(self, step: str, cmd: list[str], timeout: float | None = None) -> Outcome:
        """Run ``cmd`` from the repo root with a timeout, output to ``logs/<step>.log``."""
        timeout = min(timeout or self.plan.timeouts.get(step, 120.0), self.remaining())
        log_path = self.plan.out / "logs" / f"{step}.log"
        if timeout < 5:
            return Outcome(False, f"not started: --total-s {self.plan.total_s:.0f} reached", 0.0)
        began = time.monotonic()
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            proc = subprocess.Popen(cmd, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # the step's own process group (DataLoader workers too)
                proc.wait()
        seconds = time.monotonic() - began
        self.info.setdefault("step_seconds", {})[step] = round(seconds, 2)
        if proc.returncode == 0 and not timed_out:
            return Outcome(True, "", seconds)
        text = log_path.read_text(errors="replace")
        return Outcome(False, failure_reason(text, proc.returncode, timed_out, timeout), seconds)

    def worker(self, name: str, *args: str) -> list[str]:
        return [sys.executable, str(HERE / "gpu_check.py"), name, *map(str, args)]

    def trainer_group(self) -> str:
        return "gpu" if self.device == "cuda" else "cpu"

    def train_cmd(self, run_dir: Path, *extra: str, budget_s: float | None = None) -> list[str]:
        """``python -m lnta.train`` of Ped2 skip-frame on the check's data, sizes and device, with the clock."""
        plan = self.plan
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [sys.executable, "-m", "lnta.train", "+experiment=ped2_skip", f"data.root={plan.data_root}",
               f"data.cache_dir={plan.out / 'cache'}", f"data.image_size={plan.size}", "data.on_device=true",
               f"data.batch_size={plan.batch}", f"model.width={plan.width}", f"trainer={self.trainer_group()}",
               "trainer.enable_progress_bar=false", "ckpt_path=null", "callbacks.model_checkpoint.save_top_k=1",
               f"hydra.run.dir={run_dir}", "+callbacks.gpu_check_clock._target_=gpu_check_clock.EpochClock",
               f"+callbacks.gpu_check_clock.warmup_batches={plan.warmup_batches}"]
        if plan.synthetic:
            cmd.append("data.name=synthetic")
        if budget_s is not None:
            cmd.append(f"+callbacks.gpu_check_clock.budget_s={budget_s:.1f}")
        return cmd + list(extra)

    # -- steps
    def step(self, name: str, template: list[Row], body) -> None:
        """Run one step: ``body()`` returns its rows (in ``template``'s order) or raises
        :class:`StepFailed`; any failure turns every row of the template into FAILED with the reason."""
        if name not in self.plan.only:
            return
        print(f"[gpu_check] {name} ...", file=sys.stderr, flush=True)
        try:
            rows = body()
        except StepFailed as exc:
            rows = [r.failed(str(exc)) for r in template]
        except Exception as exc:  # noqa: BLE001 - a bug in the check itself is reported, not fatal
            rows = [r.failed(f"check error {exc.__class__.__name__}: {exc}") for r in template]
        self.rows.extend(rows)
        for row in rows:
            print(f"[gpu_check]   {format_figure(row.figure)} {row.unit}  {row.setting}  {status_text(row)}",
                  file=sys.stderr, flush=True)

    def read_json(self, path: Path, what: str) -> dict:
        if not path.is_file():
            raise StepFailed(f"{what}: {path.name} was not written")
        return json.loads(path.read_text())

    def run_env(self) -> list[Row]:
        template = [Row("env", "torch, lnta and its dependencies import; the device", None, "")]

        def body():
            out = self.plan.out / "runs" / "env.json"
            result = self.run("env", self.worker("_env", "--out", out))
            if not result.ok:
                raise StepFailed(result.reason)
            env = self.read_json(out, "env")
            self.info["env"] = env
            if self.plan.device == "auto":
                self.device = "cuda" if env["cuda"] else "cpu"
            elif self.plan.device == "cuda" and not env["cuda"]:
                raise StepFailed("--device cuda but torch sees no CUDA device")
            if self.device == "cuda":
                setting = (f"{env['gpu']}, torch {env['torch']}, lightning {env['lightning']}, "
                           f"bf16 native {env['bf16_native']}")
                return [Row("env", setting, env["gpu_memory_gib"], "GiB")]
            setting = (f"CPU only ({env['cpu_capability']}), torch {env['torch']}, lightning {env['lightning']}, "
                       f"bf16 native {env['bf16_native']}")
            return [Row("env", setting, env["cpu_cores"], "cores")]

        self.step("env", template, body)
        if self.device == "auto":  # env failed: CPU settings for what follows
            self.device = "cpu"

    def run_data(self) -> None:
        plan = self.plan
        kind = "synthetic" if plan.synthetic else "frames layout"
        template = [Row("data", f"{kind} {plan.data_root} at {plan.size}x{plan.size}: cache built", None,
                        "clips/epoch")]

        def body():
            out = plan.out / "runs" / "data.json"
            args = ["--root", plan.data_root, "--image-size", plan.size, "--cache-dir", plan.out / "cache",
                    "--out", out]
            if plan.synthetic:
                args += ["--synthetic", json.dumps(plan.synthetic_spec)]
            result = self.run("data", self.worker("_data", *args))
            if not result.ok:
                raise StepFailed(result.reason)
            data = self.read_json(out, "data")
            self.info["data"] = data
            setting = (f"{kind} {plan.data_root}: {data['train_videos']} train / {data['test_videos']} test "
                       f"videos at {plan.size}x{plan.size}, cache built in {data['cache_s']:.1f} s")
            return [Row("data", setting, data["train_clips"], "clips/epoch")]

        self.step("data", template, body)

    def run_bench(self, batch: int) -> None:
        plan, name = self.plan, f"bench_b{batch}"
        base = f"lnta.bench {plan.size}x{plan.size}, batch {batch}, width {plan.width:g}"
        template = [Row(name, f"{base}: training, precision=fast", None, "clips/s"),
                    Row(name, f"{base}: training, precision=exact", None, "clips/s"),
                    Row(name, f"{base}: test, precision=fast", None, "frames/s"),
                    Row(name, f"{base}: fast training FLOP rate / bf16 matmul peak", None, "%"),
                    Row(name, f"{base}: clips gathered on the device (data.on_device)", None, "clips/s")]

        def body():
            out = plan.out / "runs" / f"{name}.json"
            out.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "lnta.bench", "--size", str(plan.size), "--batch", str(batch),
                   "--width", f"{plan.width:g}", "--device", self.device, "--out", str(out), *plan.bench_flags]
            jpegs = sorted((plan.data_root / "training" / "frames").glob("*/"))
            if jpegs and len(list(jpegs[0].glob("*.jpg"))) >= 16:
                cmd += ["--jpeg-dir", str(jpegs[0])]
            result = self.run(name, cmd)
            if not result.ok:
                raise StepFailed(result.reason)
            b = self.read_json(out, name)
            self.info[name] = b
            fast = b["fast_settings"]["trainer_precision"] + (" + channels_last_3d" if b["fast_settings"]
                                                               ["channels_last"] else "")
            values = [b["train_clips_per_s_fast"], b["train_clips_per_s_exact"], b["eval_frames_per_s_fast"],
                      100 * b["train_fraction_of_bf16_peak"], b["loader_clips_per_s_on_device"]]
            rows = [Row(t.step, t.setting, v, t.unit) for t, v in zip(template, values)]
            rows[0] = Row(name, f"{base}: training, precision=fast ({fast})", values[0], "clips/s")
            rows[2] = Row(name, f"{base}: test batch {b['eval_batch_size']}, precision=fast", values[2], "frames/s")
            return rows

        self.step(name, template, body)

    def clock(self, run_dir: Path, what: str) -> dict:
        clock = self.read_json(run_dir / CLOCK_FILE, what)
        if clock["steady_clips_per_s"] is None:
            raise StepFailed(f"{what}: only {clock['batches']} batches, none timed after the "
                             f"{clock['warmup_batches']} warm-up batches")
        return clock

    def check_on_device(self, clock: dict) -> None:
        if clock["frames_device"] is None:
            raise StepFailed("data.on_device=true but the frames stayed on the host (did not fit on the device)")
        if clock["frames_device"].split(":")[0] != clock["root_device"].split(":")[0]:
            raise StepFailed(f"frames on {clock['frames_device']}, training on {clock['root_device']}")

    def run_on_device(self) -> None:
        plan = self.plan
        setting = f"lnta.train data.on_device=true, skip-frame, batch {plan.batch}, {plan.short_steps} steps"
        template = [Row("on_device", setting, None, "clips/s")]

        def body():
            run_dir = plan.out / "runs" / "on_device"
            result = self.run("on_device", self.train_cmd(run_dir, f"trainer.max_steps={plan.short_steps}",
                                                          "test_after_fit=false"))
            if not result.ok:
                raise StepFailed(result.reason)
            clock = self.clock(run_dir, "on_device")
            self.check_on_device(clock)
            self.info["on_device"] = clock
            return [Row("on_device", f"{setting}; frames on {clock['frames_device']}", clock["steady_clips_per_s"],
                        "clips/s")]

        self.step("on_device", template, body)

    def run_ddp(self) -> None:
        plan = self.plan
        setting = f"lnta.train trainer=ddp trainer.devices=1, on-device data, {plan.short_steps} steps"
        template = [Row("ddp", setting, None, "clips/s"), Row("ddp", "its test after fit (under DDP)", None, "frames")]

        def body():
            run_dir = plan.out / "runs" / "ddp"
            cmd = self.train_cmd(run_dir, "trainer=ddp", "trainer.devices=1", f"trainer.max_steps={plan.short_steps}",
                                 "test_after_fit=true")
            cmd.remove(f"trainer={self.trainer_group()}")
            cmd.append(f"trainer.accelerator={self.trainer_group()}")  # ddp's auto would take a GPU under --device cpu
            result = self.run("ddp", cmd)
            if not result.ok:
                raise StepFailed(result.reason)
            clock = self.clock(run_dir, "ddp")
            if clock["strategy"] != "DDPStrategy":
                raise StepFailed(f"the trainer ran with {clock['strategy']}, not DDPStrategy")
            self.check_on_device(clock)
            metrics = self.read_json(run_dir / "metrics.json", "ddp test")
            self.info["ddp"] = clock
            return [Row("ddp", f"{setting} ({clock['strategy']} on {clock['root_device']})",
                        clock["steady_clips_per_s"], "clips/s"),
                    Row("ddp", f"its test after fit (under DDP), AUC micro {metrics['auc_micro']:.4f}",
                        metrics["n_frames_scored"], "frames")]

        self.step("ddp", template, body)

    def train_budget(self) -> float:
        """``--budget-s``, shortened so that the steps after training still fit in ``--total-s``."""
        return min(self.plan.budget_s, self.remaining() - RESERVE_AFTER_TRAIN[self.plan.mode])

    def run_train(self) -> None:
        plan = self.plan
        budget = self.train_budget()
        note = "" if budget >= plan.budget_s else f" (cut from {plan.budget_s:.0f} s to fit --total-s)"
        setting = (f"Ped2 skip-frame (p 0.2), {plan.size}x{plan.size}, width {plan.width:g}, batch {plan.batch}, "
                   f"on-device data, budget {max(budget, 0):.0f} s{note}")
        template = [Row("train", setting, None, "epochs"),
                    Row("train", "training throughput within epochs (epochs after the first)", None, "clips/s"),
                    Row("train", "work between epochs (checkpoint, calibration), median", None, "s/epoch")]

        def body():
            if budget < 5:
                raise StepFailed(f"not started: --total-s {plan.total_s:.0f} leaves no training budget")
            run_dir = plan.out / "runs" / "train"
            safety = budget + max(20.0, budget / 4)  # Lightning's own stop, should the clock's prediction miss
            hms = time.strftime("%H:%M:%S", time.gmtime(safety))
            cmd = self.train_cmd(run_dir, "trainer.max_epochs=100000", f'+trainer.max_time="00:{hms}"',
                                 "test_after_fit=false", budget_s=budget)
            result = self.run("train", cmd, timeout=plan.timeouts["train"] - plan.budget_s + budget)
            if not result.ok:
                raise StepFailed(result.reason)
            clock = self.clock(run_dir, "train")
            self.check_on_device(clock)
            done = [e for e in clock["epochs"] if "seconds" in e]
            if not done:
                raise StepFailed("no epoch completed within the budget")
            timed = done[1:] or done
            in_epoch = sum(e["clips"] for e in timed) / sum(e["seconds"] for e in timed)
            between = statistics.median(e.get("after_s", 0.0) for e in done)
            self.info["train"] = clock | {"in_epoch_clips_per_s": in_epoch, "epoch_end_s": between}
            which = "epochs after the first" if done[1:] else "one epoch"
            return [Row("train", f"{setting}; {clock['fit_s']:.0f} s of fit", len(done), "epochs"),
                    Row("train", f"training throughput within epochs ({which}, {timed[0]['clips']} clips each)",
                        in_epoch, "clips/s"),
                    Row("train", "work between epochs (checkpoint, calibration), median", between, "s/epoch")]

        self.step("train", template, body)

    def run_eval(self) -> None:
        plan = self.plan
        template = [Row("eval", "lnta.eval on the train step's last.ckpt", None, "AUC micro"),
                    Row("eval", "its wall time (start-up, data and test)", None, "s")]

        def body():
            ckpt = plan.out / "runs" / "train" / "checkpoints" / "last.ckpt"
            if not ckpt.is_file():
                raise StepFailed("no last.ckpt from the train step")
            run_dir = plan.out / "runs" / "eval"
            shutil.rmtree(run_dir, ignore_errors=True)
            result = self.run("eval", [sys.executable, "-m", "lnta.eval", f"ckpt_path={ckpt}",
                                       f"trainer={self.trainer_group()}", "trainer.enable_progress_bar=false",
                                       f"hydra.run.dir={run_dir}"])
            if not result.ok:
                raise StepFailed(result.reason)
            m = self.read_json(run_dir / "metrics.json", "eval")
            self.info["eval"] = {k: m.get(k) for k in ("auc_micro", "auc_macro", "n_frames_scored", "epoch")}
            return [Row("eval", f"lnta.eval on the train step's last.ckpt, AUC macro {m['auc_macro']:.4f}",
                        m["auc_micro"], "AUC micro"),
                    Row("eval", f"its wall time (start-up, data and test of {m['n_frames_scored']} frames)",
                        result.seconds, "s")]

        self.step("eval", template, body)

    def run_compile(self) -> None:
        plan = self.plan
        base = (f"ConvAE3D {plan.size}x{plan.size}, width {plan.width:g}, batch {plan.batch}, precision=fast, "
                f"fwd+bwd+Adam")
        template = [Row("compile", f"{base}: eager", None, "ms/step"),
                    Row("compile", f"torch.compile(backend={plan.compile_backend}): first step (compile)", None, "s"),
                    Row("compile", f"{base}: compiled", None, "ms/step"),
                    Row("compile", "compiled speed / eager speed", None, "x")]

        def body():
            out = plan.out / "runs" / "compile.json"
            out.unlink(missing_ok=True)
            result = self.run("compile", self.worker(
                "_compile", "--size", plan.size, "--width", plan.width, "--batch", plan.batch, "--device",
                self.device, "--backend", plan.compile_backend, "--repeats", plan.compile_repeats, "--out", out))
            if not result.ok:
                raise StepFailed(result.reason)
            c = self.read_json(out, "compile")
            self.info["compile"] = c
            values = [c["eager_ms"], c["compile_s"], c["compiled_ms"], c["eager_ms"] / c["compiled_ms"]]
            return [Row(t.step, t.setting, v, t.unit) for t, v in zip(template, values)]

        self.step("compile", template, body)

    def run_estimate(self) -> None:
        plan = self.plan
        judged = plan.paper_scale and self.device == "cuda"
        goal = f"goal <= {GOAL_60_EPOCHS_S:.0f} s" + ("" if judged else " not judged (not 256x256, width 1, GPU)")
        template = [Row("estimate", f"Ped2 {PAPER_EPOCHS} epochs from the train step; {goal}", None, "s"),
                    Row("estimate", f"Ped2 {PAPER_EPOCHS} epochs at bench_b32's fast training rate (model step only)",
                        None, "s")]

        def body():
            data, train = self.info.get("data"), self.info.get("train")
            if data is None or train is None:
                raise StepFailed("needs the data and train steps' figures")
            ped2 = data["ped2_train_clips"]
            seconds = ped2_60_epoch_s(train["in_epoch_clips_per_s"], ped2, train["epoch_end_s"])
            setting = (f"Ped2 {PAPER_EPOCHS} epochs = {PAPER_EPOCHS} x ({ped2} clips / "
                       f"{train['in_epoch_clips_per_s']:.4g} clips/s + {train['epoch_end_s']:.2g} s between epochs); "
                       f"{goal}")
            first = Row("estimate", setting, seconds, "s")
            if judged and seconds > GOAL_60_EPOCHS_S:
                first = Row("estimate", setting, seconds, "s", "FAILED",
                            f"{seconds:.0f} s is above the goal of {GOAL_60_EPOCHS_S:.0f} s")
            b32 = self.info.get("bench_b32")
            second = template[1].failed("needs the bench_b32 step's figures") if b32 is None else Row(
                "estimate", template[1].setting, ped2_60_epoch_s(b32["train_clips_per_s_fast"], ped2), "s")
            return [first, second]

        self.step("estimate", template, body)

    def run_all(self) -> list[Row]:
        self.run_env()
        self.run_data()
        self.run_bench(4)
        self.run_bench(32)
        self.run_on_device()
        self.run_ddp()
        self.run_train()
        self.run_eval()
        self.run_compile()
        self.run_estimate()
        return self.rows


class StepFailed(Exception):
    """A step failed; the message is the table's one-line reason."""


def write_report(plan: Plan, rows: list[Row], info: dict, wall_s: float) -> str:
    """Print the table, write ``gpu_check.json`` and ``gpu_check.md`` into ``plan.out``; returns the table."""
    table = format_table(rows)
    failed = sum(r.status != "ok" for r in rows)
    summary = f"{len(rows) - failed} of {len(rows)} rows ok, {wall_s:.0f} s in all"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan).items()}
    write_json(plan.out / "gpu_check.json", {"settings": settings, "rows": [asdict(r) for r in rows],
                                             "summary": summary, "wall_s": wall_s, "details": info})
    env = info.get("env", {})
    head = f"GPU check: {env.get('gpu') or 'CPU only'}, torch {env.get('torch', '?')}; {summary}."
    write_text(plan.out / "gpu_check.md", f"{head}\n\n{markdown_table(rows)}\n")
    return f"{table}\n{summary}"


def main(argv=None) -> int:
    plan = parse_args(argv)
    check = Check(plan)
    rows = check.run_all()
    print(write_report(plan, rows, check.info, time.monotonic() - check.start))
    print(f"-> {plan.out / 'gpu_check.json'}, {plan.out / 'gpu_check.md'}")
    return 0 if all(r.status == "ok" for r in rows) else 1


# ---------------------------------------------------------------- workers (run as subprocesses)


def worker_env(argv) -> None:
    """Imports what the steps need and describes the device."""
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    import hydra  # noqa: F401 - the steps fail without these; better to say so here first
    import kornia  # noqa: F401
    import pytorch_lightning
    import torch

    import lnta.eval  # noqa: F401
    import lnta.train  # noqa: F401
    from lnta.trainer.precision import fast_bf16

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    write_json(a.out, {
        "torch": torch.__version__, "lightning": pytorch_lightning.__version__, "cuda": cuda,
        "cuda_version": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_memory_gib": torch.cuda.get_device_properties(0).total_memory / 2**30 if cuda else None,
        "gpu_count": torch.cuda.device_count(), "cpu_cores": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "bf16_native": fast_bf16(device),
        "python": sys.version.split()[0]})


def worker_data(argv) -> None:
    """Generates the synthetic data if asked, builds the uint8 cache once, counts videos and clips."""
    p = argparse.ArgumentParser()
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--image-size", type=int, required=True)
    p.add_argument("--cache-dir", type=Path, required=True)
    p.add_argument("--synthetic", help="a SyntheticSpec as JSON: generate the data into --root first")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    from lnta.cli._entry import clear_errors
    from lnta.data import VideoDataModule
    from lnta.data.datasets import TrainClips
    from lnta.data.labels.known import KNOWN
    from lnta.data.sampling import clip_starts
    from lnta.data.synthetic import SyntheticSpec, generate

    @clear_errors
    def run():
        began = time.perf_counter()
        if a.synthetic:
            generate(a.root, SyntheticSpec(**json.loads(a.synthetic)))
        generated = time.perf_counter() - began
        dm = VideoDataModule(root=str(a.root), name="synthetic" if a.synthetic else "ped2",
                             image_size=a.image_size, cache_dir=str(a.cache_dir))
        began = time.perf_counter()
        dm.prepare_cache()
        cache_s = time.perf_counter() - began
        train, test = dm.store("train"), dm.store("test")
        clip_len = 16
        write_json(a.out, {
            "root": str(a.root), "generate_s": generated, "cache_s": cache_s,
            "train_videos": len(train.names), "train_frames": int(sum(train.lengths)),
            "train_clips": len(TrainClips(train, clip_len)),
            "test_videos": len(test.names), "test_frames": int(sum(test.lengths)),
            "ped2_train_clips": int(sum(len(clip_starts(n, clip_len)) for n in KNOWN["ped2"]["train"]["lengths"]))})

    run()


def worker_compile(argv) -> None:
    """Eager against ``torch.compile`` training steps of ConvAE3D with the ``fast`` settings."""
    p = argparse.ArgumentParser()
    for name, kind in (("--size", int), ("--width", float), ("--batch", int), ("--repeats", int)):
        p.add_argument(name, type=kind, required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    import torch

    from lnta.benchmark.suite import train_step_seconds
    from lnta.trainer.precision import autocast
    from lnta.data.transforms import to_unit
    from lnta.trainer.precision import apply_speed, resolve_speed
    from lnta.models import ConvAE3D

    device = torch.device(a.device)
    speed = resolve_speed("fast", device)
    torch.manual_seed(0)
    clips = torch.randint(0, 256, (a.batch, 1, 16, a.size, a.size), dtype=torch.uint8, device=device)
    model = apply_speed(speed, ConvAE3D(width=a.width).to(device))
    eager = train_step_seconds(model, clips, speed, a.repeats)
    compiled = torch.compile(model, backend=a.backend)
    compiled.train()
    began = time.perf_counter()
    x = to_unit(clips)
    with autocast(speed, device):
        out = compiled(x)
    (out.float() - x).pow(2).mean().backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    compile_s = time.perf_counter() - began
    steady = train_step_seconds(compiled, clips, speed, a.repeats)
    apply_speed(resolve_speed("exact", device))
    write_json(a.out, {"eager_ms": 1000 * eager, "compile_s": compile_s, "compiled_ms": 1000 * steady,
                       "backend": a.backend, "trainer_precision": speed.trainer_precision,
                       "channels_last": speed.channels_last, "repeats": a.repeats})


def make_subset(argv) -> None:
    """``subset``: copy the first N training and M test videos of a frames-layout dataset, with
    the test labels cut to match, into a new folder small enough to carry to a device machine."""
    p = argparse.ArgumentParser(prog="experiments/gpu_check/run.sh subset")
    p.add_argument("--src", type=Path, required=True, help="frames-layout root (e.g. ../shared/datasets/ped2)")
    p.add_argument("--dst", type=Path, required=True, help="new folder (e.g. data/ped2_subset, git-ignored)")
    p.add_argument("--train", type=int, default=4, help="training videos (the first N)")
    p.add_argument("--test", type=int, default=2, help="test videos (the first M)")
    a = p.parse_args(argv)
    import numpy as np

    from lnta.cli._entry import clear_errors
    from lnta.data.labels.labels import find_label_file, load_frame_labels, split_labels
    from lnta.errors import DataError

    @clear_errors
    def run():
        if a.dst.exists():
            raise DataError(f"--dst {a.dst}: already exists; remove it or choose another folder")
        videos = {}
        for split, count in (("training", a.train), ("testing", a.test)):
            found = sorted(d for d in (a.src / split / "frames").glob("*") if d.is_dir())
            if len(found) < count:
                raise DataError(f"--src {a.src}: {split}/frames holds {len(found)} videos, {count} asked for")
            videos[split] = found[:count]
        labels_file = find_label_file(a.src)
        if labels_file is None:
            raise DataError(f"--src {a.src}: no frame_labels*.npy (expected the frames layout)")
        tests = sorted(d for d in (a.src / "testing" / "frames").glob("*") if d.is_dir())
        lengths = [len(list(d.glob("*.jpg"))) for d in tests]
        per_video = split_labels(load_frame_labels(labels_file), [d.name for d in tests], lengths, str(labels_file))
        for split, chosen in videos.items():
            for d in chosen:
                shutil.copytree(d, a.dst / split / "frames" / d.name)
        np.save(a.dst / labels_file.name, np.concatenate([per_video[d.name] for d in videos["testing"]])[None])
        size = sum(f.stat().st_size for f in a.dst.rglob("*") if f.is_file())
        print(f"{a.dst}: {a.train} training + {a.test} test videos, {size / 2**20:.1f} MiB")

    run()


WORKERS = {"_env": worker_env, "_data": worker_data, "_compile": worker_compile, "subset": make_subset}

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in WORKERS:
        WORKERS[sys.argv[1]](sys.argv[2:])
        sys.exit(0)
    sys.exit(main())

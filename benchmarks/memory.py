"""Memory and scale (issue 17): where the main job's memory goes, phase by phase, before and after this work; its
training throughput against the code before it, side by side; and reading and scoring 100k and 1M generated pairs.

    python benchmarks/memory.py                        # every part; writes benchmarks/results/memory.json
    python benchmarks/memory.py --parts scale step     # some: phases, throughput, settings, scale, step

`--base` names the commit to compare with (default 639cc3f, the code before this work); it is exported with
`git archive` into the scratch folder and run from there. Every job runs in a subprocess: its peak resident memory
is the child's ru_maxrss (as `/usr/bin/time -v` reports it). Parts that are not asked for keep their earlier
results in the output file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import command_line, machine  # noqa: E402
from benchmarks.scale import scale  # noqa: E402
from benchmarks.step_memory import step_breakdown  # noqa: E402
from data.files import data_root  # noqa: E402
from trainer.atomic import write_json_atomic  # noqa: E402

PARTS = ("step", "phases", "throughput", "settings", "scale")
HEADLINE = ("peak_rss_mb", "peak_rss_mb_base", "same_test_metrics", "throughput_new_over_base", "scale_peak_ratio")
MAIN_CONFIG = "configs/config_DIMP.json"
GENERATED = "synthetic/mrpc_fewgen_ctrl_seed13/train.jsonl"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--base", default="639cc3f", help="Commit to compare with (the README's results: 639cc3f).")
    parser.add_argument("--rounds", type=int, default=4, help="Throughput rounds; each runs the base and this tree.")
    parser.add_argument("--steps", type=int, default=40, help="Training steps of each throughput and settings run.")
    parser.add_argument("--settings_rounds", type=int, default=1, help="Rounds of `settings`; each runs every setting.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="Pairs scored in `scale`.")
    parser.add_argument("--base_sizes", type=int, nargs="*", default=[100_000],
                        help="Pairs scored in `scale` by the base commit, for comparison; none keeps its earlier runs.")
    parser.add_argument("--work_dir", default="benchmarks/work/memory", help="Scratch folder (git-ignored).")
    parser.add_argument("--output", default="benchmarks/results/memory.json")
    return parser.parse_args(argv)


# Started by this process, a job would inherit its peak: on exec the kernel records the launching memory's high-water
# mark in the new program's ru_maxrss. So a small launcher starts it and reports its usage, as /usr/bin/time does.
LAUNCHER = """import json, os, subprocess, sys
job = subprocess.Popen(sys.argv[2:])
os.write(int(sys.argv[1]), b"%d\\n" % job.pid)
_, status, usage = os.wait4(job.pid, 0)
used = [status, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, usage.ru_minflt]
os.write(int(sys.argv[1]), json.dumps(used).encode())
"""


class Job:
    """A subprocess, started by LAUNCHER: its peak resident memory (ru_maxrss, exact), the peaks of its anonymous and
    file-backed parts (sampled from /proc/PID/status 5 times a second), its wall and CPU time, and how busy the shared
    machine was: the load average and the share of the machine's CPU time that other processes used meanwhile (from
    /proc/stat)."""

    def __init__(self, command: list[str], cwd: Path, log: Path, env: dict | None = None):
        self.command, self.cwd, self.log, self.env = command, cwd, log, env
        self.peaks = {"RssAnon": 0, "RssFile": 0}

    def _sample(self, pid: int, done: threading.Event) -> None:
        while not done.wait(0.2):
            try:
                lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                return
            for line in lines:
                key, _, rest = line.partition(":")
                if key in self.peaks:
                    self.peaks[key] = max(self.peaks[key], int(rest.split()[0]))

    def run(self) -> dict:
        load = os.getloadavg()[0]
        busy_start, wall = _busy_jiffies(), time.perf_counter()
        report, write_end = os.pipe()
        with self.log.open("w") as log, os.fdopen(report, "rb") as reported:
            try:
                launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(write_end), *self.command],
                                            cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(self.env or {})}, pass_fds=(write_end,))
            finally:  # the launcher holds its own copy; this one would keep the pipe open
                os.close(write_end)
            pid = reported.readline()
            if not pid:
                launcher.wait()
                raise RuntimeError(f"{self.command[0]} did not start: {self.log} says why")
            done = threading.Event()
            sampler = threading.Thread(target=self._sample, args=(int(pid), done), daemon=True)
            sampler.start()
            status, maxrss_kb, own_cpu, minor_faults = json.loads(reported.read())
            launcher.wait()
            done.set()
            sampler.join()
        wall = time.perf_counter() - wall
        machine_cpu = (_busy_jiffies() - busy_start) / os.sysconf("SC_CLK_TCK")
        return {"exit_code": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 1), "cpu_s": round(own_cpu, 1),
                "minor_faults": minor_faults,
                "peak_rss_mb": round(maxrss_kb / 1024, 1),
                "peak_anon_mb_sampled": round(self.peaks["RssAnon"] / 1024, 1),
                "peak_file_mb_sampled": round(self.peaks["RssFile"] / 1024, 1),
                "other_processes_cpu_share": round(max(machine_cpu - own_cpu, 0) / (wall * os.cpu_count()), 2),
                "load_average_start": round(load, 2), "load_average_end": round(os.getloadavg()[0], 2)}


def _busy_jiffies() -> int:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def export_base(commit: str, work: Path) -> Path:
    """The base commit's tree, exported (not checked out: no worktree is registered)."""
    folder = work / f"base-{commit}"
    if not (folder / "run.py").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _env() -> dict:
    return {"DIMP_DATA_ROOT": str(data_root()), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def phases(args, work: Path, base: Path) -> dict:
    """The main job, from a fresh checker, in each tree, instrumented phase by phase (benchmarks/phase_memory.py).
    The two trees run at the same time: peak memory and metrics do not depend on it; times are not compared."""

    def one(name: str, tree: Path) -> dict:
        out = work / f"phases-{name}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        command = [sys.executable, str(ROOT / "benchmarks" / "phase_memory.py"), str(tree), str(out / "phases.json"),
                   "run", str(tree / MAIN_CONFIG), "--output_dir", str(out / "output"),
                   "--quality_checker_model", str(out / "checker")]
        job = Job(command, out, out / "log.txt", _env()).run()
        print(f"phases {name}: {job}", flush=True)
        if job["exit_code"] != 0:
            return job
        metrics = json.loads((out / "output" / "all_results.json").read_text())
        return {**job, "phases": json.loads((out / "phases.json").read_text())["phases"],
                **{k: metrics.get(k) for k in ("test_accuracy", "test_f1", "eval_accuracy", "train_samples_per_second")}}

    with ThreadPoolExecutor(2) as pool:
        runs = {name: pool.submit(one, name, tree) for name, tree in (("base", base), ("new", ROOT))}
    return {name: run.result() for name, run in runs.items()}


def _short_run(tree: Path, out: Path, checker: Path, steps: int) -> list[str]:
    """run.py on the main job's config for `steps` training steps, without evaluation or checkpoints; the training
    data is cut to those steps' examples, so that scoring them with the (given, already built) checker is short."""
    return [sys.executable, str(tree / "run.py"), str(tree / MAIN_CONFIG), "--output_dir", str(out / "output"),
            "--quality_checker_model", str(checker), "--max_steps", str(steps), "--max_train_samples", str(32 * steps),
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--max_predict_samples", "64", "--report_to", "none", "--disable_tqdm", "true"]


def throughput(args, work: Path, base: Path, checker: Path) -> dict:
    """Short DIMP runs of run.py, base and new alternating (ABBA...), on the same data and checker; train samples
    per second is train_results.json's (train_runtime: the training loop only)."""
    runs = []
    for round_ in range(args.rounds):
        order = (("base", base), ("new", ROOT)) if round_ % 2 == 0 else (("new", ROOT), ("base", base))
        for name, tree in order:
            out = work / f"throughput-{round_}-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            job = Job(_short_run(tree, out, checker, args.steps), out, out / "log.txt", _env()).run()
            result = json.loads((out / "output" / "train_results.json").read_text()) if job["exit_code"] == 0 else {}
            runs.append({"round": round_, "tree": name, **job,
                         "train_samples_per_second": result.get("train_samples_per_second"),
                         "train_runtime": result.get("train_runtime")})
            print(f"throughput round {round_} {name}: {runs[-1]}", flush=True)
    ratios = []
    for round_ in range(args.rounds):
        speed = {r["tree"]: r["train_samples_per_second"] for r in runs if r["round"] == round_}
        if speed.get("base") and speed.get("new"):
            ratios.append(round(speed["new"] / speed["base"], 4))
    return {"steps": args.steps, "runs": runs, "ratio_new_over_base_per_round": ratios,
            "ratio_new_over_base": statistics.median(ratios) if ratios else None}


# Settings that were measured and not adopted (benchmarks/README.md says why): glibc's, through its environment
# variables, and recomputing activations in the backward pass.
SETTINGS = {
    "as is": ({}, []),
    "MALLOC_MMAP_THRESHOLD_=1MB": ({"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}, []),
    "MALLOC_MMAP_THRESHOLD_=4MB, huge pages": ({"MALLOC_MMAP_THRESHOLD_": str(4 << 20),
                                               "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, []),
    "MALLOC_ARENA_MAX=1": ({"MALLOC_ARENA_MAX": "1"}, []),
    "gradient_checkpointing": ({}, ["--gradient_checkpointing", "true"]),
}


def settings(args, work: Path, checker: Path) -> dict:
    """Short runs of this tree's run.py under each of SETTINGS, in turn; peak memory, training speed, the minor page
    faults (what returning memory to the system costs: each page is faulted in again when reused) and the training
    losses, which must not change."""
    runs = []
    for round_ in range(args.settings_rounds):
        for name, (env, extra) in (SETTINGS.items() if round_ % 2 == 0 else reversed(SETTINGS.items())):
            out = work / f"settings-{round_}-{len(runs)}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            command = [*_short_run(ROOT, out, checker, args.steps), "--logging_strategy", "steps",
                       "--logging_steps", "1", *extra]
            job = Job(command, out, out / "log.txt", {**_env(), **env}).run()
            state = json.loads((out / "output" / "trainer_state.json").read_text()) if job["exit_code"] == 0 else {}
            result = json.loads((out / "output" / "train_results.json").read_text()) if job["exit_code"] == 0 else {}
            runs.append({"setting": name, "round": round_, **job,
                         "train_samples_per_second": result.get("train_samples_per_second"),
                         "losses": [h["loss"] for h in state.get("log_history", []) if "loss" in h]})
            print(f"settings {name} round {round_}: {dict(runs[-1], losses='...')}", flush=True)
    reference = next(r["losses"] for r in runs if r["setting"] == "as is")
    for run in runs:
        run["same_losses"] = run.pop("losses") == reference
    return {"steps": args.steps, "runs": runs}


def _built_checker(work: Path) -> Path:
    checker = work / "phases-new" / "checker"
    if not checker.is_dir():
        raise SystemExit("throughput and settings use the quality checker the `phases` part builds: run it first")
    return checker


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    work = (ROOT / args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    base = export_base(args.base, work)
    output = ROOT / args.output
    earlier = json.loads(output.read_text()) if output.is_file() else {}
    runners = {
        "step": lambda: step_breakdown(MINILM),
        "phases": lambda: phases(args, work, base),
        "throughput": lambda: throughput(args, work, base, _built_checker(work)),
        "settings": lambda: settings(args, work, _built_checker(work)),
        "scale": lambda: scale(work, _env(), Job, {"new": (ROOT, args.sizes), "base": (base, args.base_sizes)},
                               earlier.get("scale", {}).get("runs", [])),
    }
    command = command_line("benchmarks/memory.py", argv)
    done = {}
    for part in PARTS:
        if part in args.parts:
            started = time.perf_counter()
            done[part] = {**runners[part](), "command": command, "base_commit": args.base, "machine": machine(),
                          "part_wall_s": round(time.perf_counter() - started, 1)}
    results = json.loads(output.read_text()) if output.is_file() else {}  # read again: keeps parts run meanwhile
    results.update(done)
    results.update(headline(results))
    write_json_atomic(output, results)
    print(json.dumps({k: results[k] for k in HEADLINE if k in results}, indent=1))
    return results


def headline(results: dict) -> dict:
    """The issue's bar: the main job's peak and throughput, and how the peak grows from 100k to 1M pairs."""
    head = {}
    if "phases" in results:
        new, base = results["phases"]["new"], results["phases"]["base"]
        head |= {"peak_rss_mb": new["peak_rss_mb"], "peak_rss_mb_base": base["peak_rss_mb"],
                 "same_test_metrics": all(new.get(k) == base.get(k) for k in ("test_accuracy", "test_f1"))}
    if "throughput" in results:
        head["throughput_new_over_base"] = results["throughput"]["ratio_new_over_base"]
    if "scale" in results:
        peaks = {run["pairs"]: run["peak_rss_mb"] for run in results["scale"]["runs"] if run["tree"] == "new"}
        if len(peaks) > 1:
            head["scale_peak_ratio"] = round(peaks[max(peaks)] / peaks[min(peaks)], 3)
    return head


if __name__ == "__main__":
    main()

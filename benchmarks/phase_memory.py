"""Run one job (run.py or score.py) in this process with its resident memory recorded phase by phase.

    python benchmarks/phase_memory.py ROOT OUT.json run|score CONFIG [--key value ...]

ROOT is the source tree to run: this one, or an export of an older commit to compare with (benchmarks/memory.py
does both). A phase is the outermost of the pipeline functions below that is running; time outside them is not counted.
A thread reads /proc/self/status 20 times a second: resident memory (VmRSS), split into anonymous pages (the heap:
tensors, Python objects, Arrow buffers read into memory) and file-backed pages (libraries, memory-mapped data files).
A phase's peak is exact when it raises the process's peak (VmHWM); otherwise it is the highest sample.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import threading
import time
from pathlib import Path

# The wrapped functions, by module: they exist under these names in the trees memory.py compares.
PHASES = {
    "app.pipeline": {"load_task": "reading", "from_training_set": "weights table",
                     "attach_checker_columns": "weights table", "select_examples": "weights table",
                     "load_classifier": "model loading", "encode": "tokenization", "make_trainer": "model loading",
                     "write_weight_report": "saving"},
    "checkers.for_task": {"build_checker": "checker build", "class_logits": "checker scoring"},
}
TRAINER_PHASES = {"train": "training", "evaluate": "evaluation", "predict": "evaluation", "save_model": "saving",
                  "save_state": "saving", "save_metrics": "saving"}


def status() -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) / 1024
    return values


class Recorder:
    def __init__(self):
        self.started = time.perf_counter()
        self.phases: dict[str, dict] = {}
        self.current: str | None = None
        self.lock = threading.Lock()
        self.begin("imports")
        threading.Thread(target=self._sample, daemon=True).start()

    def begin(self, name: str) -> None:
        now = status()
        with self.lock:
            self.current = name
            record = self.phases.setdefault(name, {"phase": name, "calls": 0, "wall_s": 0.0, "rss_start_mb": now["VmRSS"],
                                                   "peak_rss_mb": 0.0, "peak_anon_mb": 0.0, "peak_file_mb": 0.0})
            record["calls"] += 1
            record["_since"], record["_hwm"] = time.perf_counter(), now["VmHWM"]
            self._note(record, now)

    def end(self) -> None:
        now = status()
        with self.lock:
            record = self.phases[self.current]
            self._note(record, now)
            if now["VmHWM"] > record.pop("_hwm"):  # this phase raised the process's peak: VmHWM is its exact peak
                record["peak_rss_mb"] = max(record["peak_rss_mb"], now["VmHWM"])
            record["wall_s"] += time.perf_counter() - record.pop("_since")
            record["rss_end_mb"] = now["VmRSS"]
            self.current = None

    @staticmethod
    def _note(record: dict, now: dict) -> None:
        record["peak_rss_mb"] = max(record["peak_rss_mb"], now["VmRSS"])
        record["peak_anon_mb"] = max(record["peak_anon_mb"], now["RssAnon"])
        record["peak_file_mb"] = max(record["peak_file_mb"], now["RssFile"])

    def _sample(self) -> None:
        while True:
            now = status()
            with self.lock:
                if self.current is not None:
                    self._note(self.phases[self.current], now)
            time.sleep(0.05)

    def wrap(self, owner, attribute: str, phase: str) -> None:
        function = getattr(owner, attribute)

        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            if self.current is not None:  # inside another phase (a checker build's training): counted there
                return function(*args, **kwargs)
            self.begin(phase)
            try:
                return function(*args, **kwargs)
            finally:
                self.end()

        setattr(owner, attribute, wrapped)

    def result(self) -> list[dict]:
        return [{k: round(v, 1) if isinstance(v, float) else v for k, v in record.items()}
                for record in self.phases.values()]


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] in ("-h", "--help"):  # memory.py runs it; a person may ask how
        print(__doc__, file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    root, out, command, *job = argv
    recorder = Recorder()
    sys.path.insert(0, root)
    from app import cli, pipeline  # noqa: F401  (what run.py imports)
    from trainer.weighted_trainer import WeightedTrainer

    recorder.end()
    for module, functions in PHASES.items():
        for attribute, phase in functions.items():
            recorder.wrap(importlib.import_module(module), attribute, phase)
    for attribute, phase in TRAINER_PHASES.items():
        recorder.wrap(WeightedTrainer, attribute, phase)
    code = cli.main(job, command=command)
    import resource

    Path(out).write_text(json.dumps({
        "exit_code": code, "wall_s": round(time.perf_counter() - recorder.started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "phases": recorder.result()}, indent=1) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

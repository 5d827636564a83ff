"""The grader's speed, measured side by side in one run on this machine.

    python3 dev.py bench            (or: .venv/bin/python bench/run.py [--copies 100])

It grades COPIES copies of the model solution notebook plus a few failing examples, and
prints:

  (a) grader wall time / floor. The floor runs the same code cells as plain Python scripts
      (one script per notebook) with the same parallelism. Target: at most 2.0.
  (b) nbgrader's `nbgrader autograde` on the same notebooks / the grader. Target: at least 5.
      nbgrader is installed in its own virtual environment under bench/.cache/, never into
      the project's.
  (c) the grader's peak memory per job, beyond the students' own processes: the peak PSS of
      the grader, its zygote and each run's launcher and namespace init, sampled every 10 ms,
      divided by the jobs. Target: under 200 MiB.
  (d) `grader check` on the model solution, from the shell, median of 5. Target: under 1 s.

Only the loopback is used; nbgrader comes from the package registry.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "submissions_example"
FAILING = ["lambda_in_pool_map", "threads_instead_of_processes", "syntax_error", "squares_in_parent", "made_up_pid"]
CACHE = ROOT / "bench" / ".cache"
JOBS = 2
MIB = 1 << 20


def class_of(directory: Path, copies: int) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for number in range(copies):
        path = directory / f"student{number:03d}.ipynb"
        shutil.copy(EXAMPLES / "model_solution.ipynb", path)
        paths.append(path)
    for name in FAILING:
        path = directory / f"{name}.ipynb"
        shutil.copy(EXAMPLES / f"{name}.ipynb", path)
        paths.append(path)
    return paths


def floor(notebooks: list[Path], scripts: Path) -> float:
    """The same code cells run as one plain script per notebook, JOBS at a time."""
    scripts.mkdir()
    commands = []
    for notebook in notebooks:
        cells = nbformat.read(notebook, as_version=4).cells
        script = scripts / f"{notebook.stem}.py"
        script.write_text("\n\n".join(c.source for c in cells if c.cell_type == "code"))
        commands.append([sys.executable, str(script)])
    started = time.perf_counter()
    with ThreadPoolExecutor(JOBS) as pool:
        list(pool.map(lambda c: subprocess.run(c, cwd=scripts, capture_output=True, timeout=120), commands))
    return time.perf_counter() - started


class Sampler(threading.Thread):
    """Proportional memory (PSS: shared pages split between their users) of the grader's
    own processes: the grader, its zygote, and each run's launcher and namespace init. The
    run's root process (where the student's code runs) and its children are not counted."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            children = _children()
            overhead = [self.pid]
            for zygote in children.get(self.pid, []):
                if "_grader_zygote" in cmdline(zygote):
                    overhead.append(zygote)
                    for launcher in children.get(zygote, []):
                        overhead.append(launcher)
                        overhead.extend(children.get(launcher, []))  # the namespace's init
            self.peak = max(self.peak, sum(pss(pid) for pid in overhead))
            time.sleep(0.01)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            tree.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return tree


def pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def grader(class_dir: Path, out: Path) -> tuple[float, int, dict]:
    command = [str(Path(sys.executable).parent / "grader"), "grade", str(class_dir), "--out", str(out),
               "--jobs", str(JOBS), "--force"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = Sampler(process.pid)
    sampler.start()
    process.wait()
    elapsed = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    results = json.loads((out / "results.json").read_text())["submissions"]
    scores = {entry["student"]: entry["score"] for entry in results}
    return elapsed, sampler.peak, scores


def nbgrader_environment() -> Path:
    venv = CACHE / "nbgrader-venv"
    if not (venv / "bin" / "nbgrader").exists():
        print("  installing nbgrader into bench/.cache/nbgrader-venv (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "nbgrader"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return venv / "bin"


def nbgrader(notebooks: list[Path], course: Path) -> float:
    """`nbgrader autograde` of the same notebooks: a course with one assignment, a student each."""
    bin_dir = nbgrader_environment()
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    shutil.copy(EXAMPLES / "model_solution.ipynb", source / "ps1.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.ExecutePreprocessor.timeout = 30\n"
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = lambda *args: subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env,
                                       capture_output=True, text=True)
    for step in (["db", "assignment", "add", "ps1"], ["generate_assignment", "ps1", "--force"]):
        result = run(*step)
        if result.returncode != 0:
            raise SystemExit(f"nbgrader {' '.join(step)} failed:\n{result.stderr[-2000:]}")
    for notebook in notebooks:
        target = course / "submitted" / notebook.stem / "ps1"
        target.mkdir(parents=True)
        shutil.copy(notebook, target / "ps1.ipynb")
    started = time.perf_counter()
    result = run("autograde", "ps1", "--create", "--force")
    elapsed = time.perf_counter() - started
    graded = len(list((course / "autograded").glob("*/ps1/ps1.ipynb")))
    if graded < len(notebooks):
        raise SystemExit(f"nbgrader autograded {graded} of {len(notebooks)}:\n{result.stderr[-3000:]}")
    return elapsed


def check_command() -> list[float]:
    command = [str(Path(sys.executable).parent / "grader"), "check", str(EXAMPLES / "model_solution.ipynb")]
    subprocess.run(command, capture_output=True)  # warm the file cache, as any second run would be
    times = []
    for _ in range(5):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True)
        times.append(time.perf_counter() - started)
        assert result.returncode == 0, result.stdout
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--skip-nbgrader", action="store_true", help="(b) is then not measured")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, jobs={JOBS}")
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as work:
        work_dir = Path(work)
        notebooks = class_of(work_dir / "class", args.copies)
        print(f"{len(notebooks)} notebooks: {args.copies} copies of the model solution and {len(FAILING)} failing examples")

        floor_seconds = floor(notebooks, work_dir / "scripts")
        grader_seconds, overhead, scores = grader(work_dir / "class", work_dir / "out")
        full = sum(score == 100 for name, score in scores.items() if name.startswith("student"))
        print(f"floor (cells as plain scripts): {floor_seconds:6.2f} s")
        print(f"grader grade --jobs {JOBS}:         {grader_seconds:6.2f} s   ({full}/{args.copies} copies scored 100)")
        ratio_a = grader_seconds / floor_seconds
        print(f"(a) grader / floor             = {ratio_a:5.2f}   target <= 2.0   {'ok' if ratio_a <= 2 else 'MISSED'}")

        if not args.skip_nbgrader:
            nbgrader_seconds = nbgrader(notebooks, work_dir / "course")
            ratio_b = nbgrader_seconds / grader_seconds
            print(f"nbgrader autograde:            {nbgrader_seconds:6.2f} s")
            print(f"(b) nbgrader / grader          = {ratio_b:5.1f}   target >= 5     {'ok' if ratio_b >= 5 else 'MISSED'}")

        per_job = overhead / JOBS
        print(f"(c) memory per job             = {per_job / MIB:5.0f} MiB  target < 200   "
              f"{'ok' if per_job < 200 * MIB else 'MISSED'}   (peak {overhead / MIB:.0f} MiB PSS of the grader, its"
              f" zygote and the runs' launchers, / {JOBS} jobs)")

        times = check_command()
        median = statistics.median(times)
        print(f"(d) grader check, model        = {median:5.2f} s  target < 1     {'ok' if median < 1 else 'MISSED'}"
              f"   (runs: {', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

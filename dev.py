#!/usr/bin/env python3
"""Set up a project-local virtual environment and run the grader or the tests in it.

Works from a fresh clone with only python3 (>= 3.10): system pip may be externally managed
(PEP 668), so everything goes into .venv/ here, installed from pyproject.toml.

    python3 dev.py grader grade submissions_example/    # any grader command
    python3 dev.py test [pytest arguments]              # the test suite
    python3 dev.py bench [--copies N]                   # bench/run.py: speed against the floor and nbgrader
    python3 dev.py setup                                # only make .venv/ (CI adds the model extra to it)
    python3 dev.py lint                                 # ruff and mypy, configured in pyproject.toml
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def ensure_environment() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036  # dev.py runs on any python3, to say so
        sys.exit(f"dev.py: Python 3.10 or newer is needed, this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("dev.py: creating .venv/", file=sys.stderr)
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
        if result.returncode != 0:
            sys.exit("dev.py: could not create a virtual environment; on Debian/Ubuntu install python3-venv")
    spec = (ROOT / "pyproject.toml").stat().st_mtime
    if not STAMP.exists() or STAMP.stat().st_mtime < spec:
        print("dev.py: installing the grader and its dependencies into .venv/", file=sys.stderr)
        subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=False)
        subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"], check=True)
        STAMP.touch()


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("grader", "test", "bench", "setup", "lint"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_environment()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "setup":
        return 0
    if command == "test":
        argv = [str(BIN / "python"), "-m", "pytest", *rest]
    elif command == "lint":
        linted = subprocess.run([str(BIN / "ruff"), "check", str(ROOT), *rest], check=False).returncode
        typed = subprocess.run([str(BIN / "mypy")], cwd=ROOT, check=False).returncode
        return linted or typed
    elif command == "bench":
        argv = [str(BIN / "python"), str(ROOT / "bench" / "run.py"), *rest]
    else:
        argv = [str(BIN / "grader"), *rest]
        if os.name == "posix":  # become the grader: a signal (kill, Ctrl-C) reaches it, not only dev.py
            os.execv(argv[0], argv)
    return subprocess.run(argv, cwd=ROOT if command != "grader" else None, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

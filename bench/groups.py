"""Answer groups and similarity, measured on a synthetic class with planted copies.

    .venv/bin/python bench/groups.py [--students 64] [--keep DIR]

Makes the class (bench/make_class.py), grades it, then prints for each question: the answers,
the groups, the groups that hold answers the rubric marked differently and the answers in them,
with the model (if the `model` extra is installed) and with the no-model fallback; and for
similarity: the planted pairs found, and the pairs listed that were not planted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_class import make
from grader.analysis.groups import group_question, model_available
from grader.analysis.similarity import Pair
from grader.gradebook.publish import publish
from grader.gradebook.store import Gradebook
from grader.grading.rubric import load_rubric


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="make and grade the class here, and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-groups-"))
    class_dir, out = work / "class", work / "out"
    make(class_dir, args.students, args.seed)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(out), "--timeout", "5"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"graded {args.students} in {time.monotonic() - started:.1f} s")
    book = Gradebook(out / "gradebook.sqlite")
    results = publish(book, out).results
    rubric = load_rubric(ROOT / "rubrics" / "multiprocessing.yaml")
    families = json.loads((class_dir / "families.json").read_text())
    modes = [("fallback", False)] + ([("model", True)] if model_available() else [])
    print(f"{'question':8} {'how':8} {'answers':>7} {'groups':>6} {'mixed groups':>12} {'answers in them':>15} "
          f"{'2+ meanings':>11} {'groups per meaning':>18} {'seconds':>7}")
    for question in rubric.questions:
        code = question.asks_code
        for name, use_model in (modes if not code else [("observed", False)]):
            started = time.monotonic()
            groups = group_question(results, question.id, code, use_model)
            seconds = time.monotonic() - started
            scores = {r.student: q.score for r in results for q in r.questions if q.id == question.id}
            mixed = [g for g in groups if len({scores[s] for s in g.members}) > 1]
            splits, meanings = "", ""
            if not code:  # how many groups each meaning is spread over, and groups holding two
                spread = Counter()
                for family in {families[s][question.id] for s in scores}:
                    members = {s for s in scores if families[s][question.id] == family}
                    spread[family] = sum(1 for g in groups if members & set(g.members))
                splits = " ".join(f"{f}:{n}" for f, n in sorted(spread.items()))
                meanings = str(sum(1 for g in groups if len({families[s][question.id] for s in g.members}) > 1))
            print(f"{question.id:8} {name:8} {len(scores):7} {len(groups):6} {len(mixed):12} "
                  f"{sum(g.size for g in mixed):15} {meanings:>11} {splits:>18} {seconds:7.2f}")
    planted = {(p["material"], tuple(p["pair"])) for p in json.loads((class_dir / "planted.json").read_text())}
    pairs = [Pair.from_json(p) for p in book.get("pairs", [])]  # type: ignore[union-attr]
    listed = {(p.material.value, tuple(sorted((p.first, p.second)))) for p in pairs}
    print(f"similarity: {len(planted & listed)} of {len(planted)} planted pairs found; "
          f"{len(listed - planted)} listed that were not planted: {sorted(listed - planted)}")
    for pair in pairs:
        print(f"  {pair.material.value} {pair.first} {pair.second} {pair.similarity:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Make a class of synthetic hand-ins, with planted copies, to measure answer groups and similarity.

    .venv/bin/python bench/make_class.py OUT [--students 64] [--seed 7]

Every text and code variant here was written for this script, in the shapes real hand-ins take
(headers `## Q1`, `#Answer1`, `Q.No-01`, a bare `1.`; answers in markdown or comments; other
functions, inputs and pool APIs; some wrong). Each answer comes from a family of paraphrases
that mean the same thing, so a grouping by meaning can be judged. `OUT/planted.json` lists the
planted pairs: a copy of another student's code with names changed and comments moved, and a
copy of another student's text answers reworded only a little.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# Each family is one meaning; an answer takes one wording of each of its parts.
TEXT = {
    "q1": {
        "full": [
            ["Multiprocessing runs several processes at the same time", "With multiprocessing a program starts separate processes that run in parallel",
             "The multiprocessing module lets Python spawn extra processes that execute simultaneously"],
            ["each on its own CPU core,", "so that all the cores of the machine are used,", "spreading the work over multiple processors,"],
            ["which speeds up CPU-bound work", "so heavy computations finish sooner", "making number crunching faster"],
            ["and since every process has its own interpreter, the GIL does not hold it back.",
             "and it sidesteps the global interpreter lock because memory is not shared.",
             "and the GIL only applies inside one process, so it is no limit here."],
        ],
        "partial": [
            ["Multiprocessing means doing many things at once", "It is running more than one task at the same time",
             "Multiprocessing helps perform several jobs together"],
            ["so the program is faster.", "to save time.", "which improves speed."],
        ],
        "wrong": [
            ["Multiprocessing is a module for reading files quickly", "It is a library to draw graphs",
             "Multiprocessing is a way of storing data"],
            ["in Python.", "used by data scientists.", "that comes with Python."],
        ],
    },
    "q2": {
        "full": [
            ["Processes each have their own memory space, while threads of one process share memory.",
             "A thread lives inside a process and shares its memory; a process is independent, with separate memory.",
             "Multiprocessing uses separate address spaces, multithreading one shared address space."],
            ["Because of the GIL, only one thread runs Python code at a time, but processes run truly in parallel.",
             "In CPython the GIL limits threads, not processes.", "Processes escape the global interpreter lock; threads do not."],
            ["So processes suit CPU-bound tasks and threads suit I/O-bound tasks.",
             "Use processes for heavy computation and threads for waiting on the network or disk.",
             "Threads are lighter and start faster, which helps with I/O; processes win for CPU work."],
        ],
        "partial": [
            ["Multiprocessing uses processes and multithreading uses threads.", "Processes are heavier than threads.",
             "Threads share memory but processes do not."],
            ["", "That is the main difference.", "Both are used for concurrency."],
        ],
        "wrong": [
            ["There is no difference,", "They are the same thing,", "Multithreading is just the older name,"],
            ["both run code faster.", "it depends on the computer.", "Python treats them equally."],
        ],
    },
    "q4": {
        "full": [
            ["A pool is a fixed group of worker processes", "multiprocessing.Pool keeps a set of worker processes alive",
             "The Pool class manages several worker processes"],
            ["that take tasks from a queue and send back the results.", "and distributes pieces of the work to them, for example with map.",
             "and hands each of them part of the data."],
            ["It is used to run one function over many inputs in parallel without managing each process by hand.",
             "It saves the cost of starting a process per task and keeps parallel code short.",
             "It is used for data parallelism: the same function on every element of a list, across the workers."],
        ],
        "partial": [
            ["A pool is a group of processes", "Pool is a collection of processes", "A pool means many workers"],
            ["used to run code in parallel.", "in Python.", "that work together."],
        ],
        "wrong": [
            ["A pool is a list of variables", "A pool is a kind of dictionary", "A pool stores strings"],
            ["shared by threads.", "used for caching.", "for later use."],
        ],
    },
}

Q3 = {
    "process_pid": '''import multiprocessing
import os

def {f}():
    print("child says hello, pid", os.getpid())

if __name__ == "__main__":
    {p} = multiprocessing.Process(target={f})
    {p}.start()
    {p}.join()
    print("parent pid", os.getpid())
''',
    "process_args": '''from multiprocessing import Process

def {f}(name):
    print("Hello from", name)

if __name__ == '__main__':
    {p} = Process(target={f}, args=("worker",))
    {p}.start()
    {p}.join()
''',
    "thread": '''import threading

def {f}():
    print("running in a thread")

{p} = threading.Thread(target={f})
{p}.start()
{p}.join()
''',
    "no_start": '''import multiprocessing

def {f}():
    print("hi")

{p} = multiprocessing.Process(target={f})
print("process created")
''',
}

Q5 = {
    "map": '''import multiprocessing

def {f}(n):
    return n * n

if __name__ == "__main__":
    with multiprocessing.Pool(processes=4) as {p}:
        out = {p}.map({f}, [1, 2, 3, 4, 5])
    print(out)
''',
    "map_cubes": '''from multiprocessing import Pool

def {f}(value):
    return value ** 3

if __name__ == "__main__":
    {p} = Pool(3)
    print({p}.map({f}, range(1, 6)))
    {p}.close()
    {p}.join()
''',
    "apply_async": '''import multiprocessing

def {f}(x):
    return x + 10

if __name__ == "__main__":
    {p} = multiprocessing.Pool()
    jobs = [{p}.apply_async({f}, (i,)) for i in range(4)]
    print([job.get() for job in jobs])
    {p}.close()
''',
    "executor": '''from concurrent.futures import ProcessPoolExecutor

def {f}(x):
    return x * 2

if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2) as {p}:
        print(list({p}.map({f}, [5, 6, 7])))
''',
    "parent_prints": '''import multiprocessing

def {f}(n):
    return n * n

if __name__ == "__main__":
    {p} = multiprocessing.Pool(2)
    print([1, 4, 9, 16, 25])
''',
}

Q6 = {
    "loop": '''import multiprocessing

def {f}(number):
    print("number", number)

if __name__ == "__main__":
    {p} = []
    for i in range(1, 5):
        proc = multiprocessing.Process(target={f}, args=(i,))
        {p}.append(proc)
        proc.start()
    for proc in {p}:
        proc.join()
''',
    "explicit": '''from multiprocessing import Process

def {f}(n):
    print(f"I am printing {{n}}")

if __name__ == "__main__":
    {p}1 = Process(target={f}, args=(10,))
    {p}2 = Process(target={f}, args=(20,))
    {p}3 = Process(target={f}, args=(30,))
    {p}4 = Process(target={f}, args=(40,))
    for q in ({p}1, {p}2, {p}3, {p}4):
        q.start()
    for q in ({p}1, {p}2, {p}3, {p}4):
        q.join()
''',
    "same_number": '''import multiprocessing

def {f}():
    print(7)

if __name__ == "__main__":
    {p} = [multiprocessing.Process(target={f}) for _ in range(4)]
    for q in {p}:
        q.start()
    for q in {p}:
        q.join()
''',
    "parent_loop": '''import multiprocessing

if __name__ == "__main__":
    for {p} in range(4):
        print({p})
''',
}

HEADERS = [
    lambda n, prompt: f"## Q{n}. {prompt}",
    lambda n, prompt: f"#Answer{n}",
    lambda n, prompt: f"Q.No-0{n}",
    lambda n, prompt: f"{n}.",
    lambda n, prompt: f"### Question {n}\n{prompt}",
]
PROMPTS = {
    1: "What is multiprocessing in python? Why is it useful?",
    2: "What are the differences between multiprocessing and multithreading?",
    3: "Write a python code to create a process using the multiprocessing module.",
    4: "What is a multiprocessing pool in python? Why is it used?",
    5: "How can we create a pool of worker processes in python using the multiprocessing module?",
    6: "Write a python program to create 4 processes, each process should print a different number using the multiprocessing module in python.",
}
NAMES = ["worker", "task", "job", "run", "do_work", "compute", "square", "show", "hello", "func"]
OBJECTS = ["p", "proc", "process", "pool", "workers", "handle", "obj", "ps"]
QUALITY = {"full": 0.6, "partial": 0.3, "wrong": 0.1}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _student(rng: random.Random) -> dict:
    return {
        "header": rng.randrange(len(HEADERS)),
        "text": {q: (kind := _pick(rng, QUALITY), [rng.randrange(len(part)) for part in TEXT[q][kind]]) for q in TEXT},
        "extras": [rng.random() < 0.35 for _ in EXTRAS],
        "numbers": rng.sample(range(1, 60), 5),
        "code": {"q3": rng.choices(list(Q3), [5, 3, 1, 1])[0], "q5": rng.choices(list(Q5), [5, 2, 2, 2, 1])[0],
                 "q6": rng.choices(list(Q6), [5, 3, 1, 1])[0]},
        "f": rng.choice(NAMES), "p": rng.choice(OBJECTS), "empty": rng.random() < 0.06,
    }


def _cells(spec: dict, reword: bool = False) -> list:
    cells = [new_markdown_cell("# Multiprocessing Assignment")]
    for n in range(1, 7):
        q = f"q{n}"
        header = HEADERS[spec["header"]](n, PROMPTS[n])
        if q in TEXT:
            if spec["empty"] and n == 4:
                cells.append(new_markdown_cell(header))
                continue
            kind, choice = spec["text"][q]
            answer = " ".join(part[i] for part, i in zip(TEXT[q][kind], choice)).strip()
            if reword:  # a copy dressed up a little: a word swapped, a sentence added
                answer = answer.replace("processes", "separate processes", 1) + " This is my own answer."
            cells.append(new_markdown_cell(f"{header}\n\n{answer}"))
        else:
            table = {"q3": Q3, "q5": Q5, "q6": Q6}[q]
            code = _vary(table[spec["code"][q]].format(f=spec["f"], p=spec["p"]), spec)
            cells.append(new_markdown_cell(header))
            cells.append(new_code_cell(code))
    return cells


EXTRAS = [  # lines a student may add to a main block, each their own habit
    'print("starting")', 'print("all done")', "time.sleep(0.01)", 'print("-" * 20)',
    "started = time.time()", 'print("took", round(time.time() - started, 2))', "sys.stdout.flush()",
    'print("main is", __name__)',
]


def _vary(code: str, spec: dict) -> str:
    """A student's own touches: other numbers, and a few lines of their habits in the main block."""
    numbers = iter(spec["numbers"])
    code = re.sub(r"\[1, 2, 3, 4, 5\]|\[5, 6, 7\]", lambda m: str(sorted(next(numbers) for _ in range(3))), code)
    lines = ["import sys", "import time", *code.splitlines()]
    main = next((i for i, line in enumerate(lines) if line.startswith("if __name__")), None)
    indent = "    " if main is not None else ""
    at = main + 1 if main is not None else len(lines)
    for extra, chosen in zip(EXTRAS, spec["extras"]):
        if chosen:
            lines.insert(at, indent + extra)
            at += 1
    return "\n".join(lines) + "\n"


def _rename(code_spec: dict, rng: random.Random) -> dict:
    """The copy of a student's code: every name changed, the rest the same."""
    return {**code_spec, "f": rng.choice([n for n in NAMES if n != code_spec["f"]]) + "_v2",
            "p": rng.choice([o for o in OBJECTS if o != code_spec["p"]]) + "x"}


def make(out: Path, students: int, seed: int) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    specs = {f"student{i:02d}": _student(rng) for i in range(students)}
    names = list(specs)
    planted = []
    for source, copy in zip(names[:4], names[-4:]):  # code copied, names changed
        specs[copy] = _rename({**specs[copy], "code": dict(specs[source]["code"]), "extras": specs[source]["extras"],
                               "numbers": specs[source]["numbers"], "f": specs[source]["f"], "p": specs[source]["p"]}, rng)
        planted.append({"material": "code", "pair": sorted([source, copy])})
    rewords = set()
    for source, copy in zip(names[4:6], names[-6:-4]):  # text copied, lightly reworded
        specs[copy] = {**specs[copy], "text": dict(specs[source]["text"]), "empty": specs[source]["empty"]}
        rewords.add(copy)
        planted.append({"material": "text", "pair": sorted([source, copy])})
    for name, spec in specs.items():
        notebook = new_notebook()
        notebook.cells = _cells(spec, reword=name in rewords)
        nbformat.write(notebook, out / f"{name}.ipynb")
    (out / "planted.json").write_text(json.dumps(planted, indent=2))
    families = {name: {q: spec["text"][q][0] for q in TEXT} for name, spec in specs.items()}  # the meaning
    (out / "families.json").write_text(json.dumps(families, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--students", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    make(args.out, args.students, args.seed)

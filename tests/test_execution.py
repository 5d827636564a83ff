"""Execution under observation: time-outs kill the tree, a dead kernel is restarted, the
kernel is always the grader's own interpreter, and every start method is observed."""

from __future__ import annotations

import json
import os

import pytest

from grader.run.engine import EngineKind
from tests.helpers import EXAMPLES, Watch, check, grade_path, named, scores, write_notebook

MODEL = json.loads((EXAMPLES / "model_solution.ipynb").read_text())
Q6_MODEL = "".join(MODEL["cells"][-1]["source"])
Q5_MODEL = "".join(MODEL["cells"][-3]["source"])


HANG = """import multiprocessing, os, time

def rename_and_sleep():
    with open("/proc/self/comm", "w") as handle:
        handle.write("{marker}")
    time.sleep(600)

def grandchild():
    rename_and_sleep()

def child():
    multiprocessing.Process(target=grandchild).start()
    os.setsid()  # leaves the kernel's process group: a killpg would miss it
    rename_and_sleep()

if __name__ == "__main__":
    p = multiprocessing.Process(target=child)
    p.start()
    p.join()
"""


@pytest.mark.slow
@pytest.mark.parametrize("engine", list(EngineKind))
def test_timeout_kills_the_whole_tree_and_grading_goes_on(tmp_path, rubric, engine):
    marker = f"hang{os.getpid() % 100000}"
    path = write_notebook(tmp_path / "hang.ipynb", [
        ("md", "Q5."), ("code", HANG.format(marker=marker)), ("md", "Q6."), ("code", Q6_MODEL),
    ])
    watch = Watch(marker)
    watch.start()
    result = grade_path(path, rubric, timeout=2, engine=engine, submission_timeout=30)
    watch.stop()
    assert len(watch.seen) == 2  # the child and the grandchild both ran
    [q5] = [q for q in result.questions if q.id == "q5"]
    assert any("time limit of 2 s exceeded in Q5" in note for note in q5.notes)
    assert "time limit" in check(result, "q5", "runs without errors").detail
    assert scores(result)["q6"] == 25
    assert named(marker) == []


@pytest.mark.parametrize("engine", list(EngineKind))
def test_dead_kernel_is_restarted_and_later_cells_are_graded(tmp_path, rubric, engine):
    path = write_notebook(tmp_path / "die.ipynb", [
        ("md", "Q3."), ("code", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        ("md", "Q5."), ("code", Q5_MODEL), ("md", "Q6."), ("code", Q6_MODEL),
    ])
    result = grade_path(path, rubric, timeout=10, engine=engine)
    got = scores(result)
    assert got["q3"] == 0
    assert "kernel" in check(result, "q3", "runs without errors").detail
    assert got["q5"] == 25 and got["q6"] == 25


@pytest.mark.parametrize("engine", list(EngineKind))
def test_a_module_missing_here_fails_its_import_alone_and_later_cells_keep_the_others(tmp_path, rubric, engine):
    """A student's first cell imports a package they had and this machine lacks: that import
    fails (and costs its question), while `multiprocessing`, imported by the same cell, is
    there for Q6's cell, which does not import it again."""
    path = write_notebook(tmp_path / "missing.ipynb", [
        ("md", "Q3."), ("code", "# my imports\nimport grader_no_such_package_here as web\nimport multiprocessing\n"
                               "def child():\n    print('child')\n"
                               "p = multiprocessing.Process(target=child)\np.start(); p.join()\nweb.get('x')"),
        ("md", "Q6."), ("code", Q6_MODEL.replace("import multiprocessing", "")),
    ])
    result = grade_path(path, rubric, timeout=10, engine=engine)
    ran = check(result, "q3", "runs without errors").detail
    assert "line 2" in ran and "ModuleNotFoundError" in ran and "grader_no_such_package_here" in ran, ran
    assert check(result, "q3", "a child process really ran").passed  # the rest of the cell ran
    assert scores(result)["q6"] == 25


def test_a_cell_is_cut_only_at_the_imports_of_a_cell_that_imports_a_missing_module():
    from grader.run.plan import _cut_at_missing_imports
    from grader.run.units import Unit

    def cut(source: str) -> list[tuple[str, str]]:
        return [(u.label, u.source) for u in _cut_at_missing_imports(Unit("q3", "code cell 1", source=source))]

    whole = "import os\nimport multiprocessing\nprint(os.getpid())"
    assert cut(whole) == [("code cell 1", whole)]  # everything is here: the cell runs whole
    assert cut("import nowhere_pkg_x as a, os") == [("code cell 1", "import nowhere_pkg_x as a, os")]  # nothing to cut
    assert cut("%time import nowhere_pkg_x\nx = (") == [("code cell 1", "%time import nowhere_pkg_x\nx = (")]
    source = ("# top\nimport os; import nowhere_pkg_x\nfrom multiprocessing import Process\n"
              "@staticmethod\ndef f():\n    pass\n%time f\nx = 1\nimport sys")
    assert cut(source) == [
        ("code cell 1, line 2", "# top\nimport os; import nowhere_pkg_x"),  # one line is one unit
        ("code cell 1, line 3", "from multiprocessing import Process"),
        ("code cell 1, line 4", "@staticmethod\ndef f():\n    pass\n%time f\nx = 1"),  # code runs together
        ("code cell 1, line 9", "import sys"),
    ]


def test_a_python3_kernelspec_elsewhere_changes_nothing(tmp_path, rubric, monkeypatch):
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["/bin/false", "{connection_file}"],
                                                  "display_name": "broken", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    result = grade_path(EXAMPLES / "model_solution.ipynb", rubric, engine=EngineKind.KERNEL)
    assert result.score == 100


def test_script_question_that_hangs_is_stopped_and_the_next_one_runs(tmp_path, rubric):
    text = (EXAMPLES / "functions_with_main_block.py").read_text()
    text = text.replace("    return x * x", "    while True:\n        pass")
    path = tmp_path / "hangs.py"
    path.write_text(text)
    result = grade_path(path, rubric, timeout=2, submission_timeout=30)  # a hang would leave the rest not run
    got = scores(result)
    assert got["q3"] == 20 and got["q6"] == 25
    assert got["q5"] == 3
    assert "time limit" in check(result, "q5", "runs without errors").detail


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_children_made_by_spawn_and_forkserver_are_observed(tmp_path, rubric, method):
    text = (EXAMPLES / "functions_with_main_block.py").read_text()
    text = text.replace('if __name__ == "__main__":\n', f'if __name__ == "__main__":\n    multiprocessing.set_start_method({method!r})\n')
    path = tmp_path / f"{method}.py"
    path.write_text(text)
    result = grade_path(path, rubric, timeout=20)
    assert scores(result) == {"q1": 10, "q2": 10, "q3": 20, "q4": 10, "q5": 25, "q6": 25}


def test_a_script_that_exits_early_leaves_later_questions_unrun(tmp_path, rubric):
    text = (EXAMPLES / "functions_with_main_block.py").read_text().replace("    q5()\n", "    q5()\n    os._exit(3)\n")
    path = tmp_path / "exits.py"
    path.write_text(text)
    result = grade_path(path, rubric)
    got = scores(result)
    assert got["q3"] == 20 and got["q5"] == 25
    assert got["q6"] == 3  # the code asks for processes, but none ran
    assert "not run" in check(result, "q6", "runs without errors").detail


def test_evidence_comes_from_the_probe_not_from_printed_text(tmp_path, rubric):
    fake = '''print("Process ID: 4242 - Number: 1")
print("Process ID: 4243 - Number: 2")
print("Process ID: 4244 - Number: 3")
print("Process ID: 4245 - Number: 4")
'''
    path = write_notebook(tmp_path / "fake.ipynb", [("md", "Q6."), ("code", fake)])
    assert scores(grade_path(path, rubric))["q6"] == 5  # only "runs cleanly"


def test_a_syntax_error_in_one_script_cell_breaks_only_its_question(tmp_path, rubric):
    text = (EXAMPLES / "model_solution_percent.py").read_text()
    broken = text.replace("def worker_function(x):\n    return x * x", "def worker_function(x)\n    return x * x")
    assert broken != text
    path = tmp_path / "broken.py"
    path.write_text(broken)
    result = grade_path(path, rubric)
    got = scores(result)
    assert got["q5"] == 3 and got["q3"] == 20 and got["q6"] == 25  # only the Pool(...) it meant
    assert "SyntaxError" in check(result, "q5", "runs without errors").detail


def test_a_manager_s_server_is_not_the_student_s_process(tmp_path, rubric):
    code = "import multiprocessing\nif __name__ == '__main__':\n    m = multiprocessing.Manager()\n    m.shutdown()"
    result = grade_path(write_notebook(tmp_path / "manager.ipynb", [("md", "Q3."), ("code", code)]), rubric)
    assert not check(result, "q3", "a child process really ran").passed
    assert not check(result, "q3", "uses multiprocessing.Process").passed


def test_a_child_that_prints_a_process_header_of_its_own_is_read(tmp_path, rubric):
    code = ("import multiprocessing\n\ndef say(n):\n    print(f'Process {multiprocessing.current_process().name}:')\n"
            "    print(f'    my number is {n}')\n\nif __name__ == '__main__':\n"
            "    ps = [multiprocessing.Process(target=say, args=(n,)) for n in range(4)]\n"
            "    [p.start() for p in ps]\n    [p.join() for p in ps]")
    result = grade_path(write_notebook(tmp_path / "header.ipynb", [("md", "Q6."), ("code", code)]), rubric)
    assert check(result, "q6", "each process prints its own number").passed


def test_one_large_print_of_pool_results_is_read_whole(tmp_path, rubric):
    code = ("import multiprocessing\n\ndef f(x):\n    return x * x\n\nif __name__ == '__main__':\n"
            "    with multiprocessing.Pool(2) as pool:\n        print(pool.map(f, range(20000)))")
    result = grade_path(write_notebook(tmp_path / "big.ipynb", [("md", "Q5."), ("code", code)]), rubric)
    assert check(result, "q5", "the pool's workers compute").passed


def test_a_script_with_a_line_separator_inside_a_string_runs_as_written(tmp_path, rubric):
    text = (EXAMPLES / "functions_with_main_block.py").read_text().replace(
        "def q3():\n", "SEPARATOR = 'a\u2028b\x0cc'\n\n\ndef q3():\n")
    path = tmp_path / "separator.py"
    path.write_text(text, encoding="utf-8")
    assert scores(grade_path(path, rubric)) == {"q1": 10, "q2": 10, "q3": 20, "q4": 10, "q5": 25, "q6": 25}


MANY_WRITERS = """import multiprocessing as mp
def work(n):
    for i in range(200):
        print("process", n, "line", i)

if __name__ == "__main__":
    ps = [mp.Process(target=work, args=(n,)) for n in range(40)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
"""


@pytest.mark.parametrize("engine", list(EngineKind))
def test_forked_children_that_print_a_lot_all_end_cleanly_and_are_all_heard(tmp_path, rubric, engine):
    """A child forked from a Jupyter kernel inherits streams that write through the kernel's
    ZeroMQ sockets, which libzmq does not survive across a fork: such children hung or died
    of SIGABRT now and then, which read as the student's crash. They now write to the probe only."""
    path = write_notebook(tmp_path / "writers.ipynb", [("md", "Q6."), ("code", MANY_WRITERS)])
    result = grade_path(path, rubric, timeout=30, engine=engine)
    [q6] = [q for q in result.questions if q.id == "q6"]
    children = [p for p in q6.processes if p.role != "main"]
    assert len(children) == 40 and {p.exit_code for p in children} == {0}, (len(children), q6.notes, result.review)
    assert all(p.output.startswith(f"process {int(p.name.split('-')[1]) - 1} line 0\n") for p in children)


def test_a_chat_answer_pasted_whole_runs_without_its_python_and_copy_code_labels(tmp_path, rubric):
    """A script of pasted chat answers: each code block keeps the `python` and `Copy code`
    lines of the page it came from; `python` alone parses, as a name that is not defined."""
    code = Q6_MODEL.replace("\n\n", "\n")
    path = tmp_path / "chat.py"
    path.write_text("Q6. Write a python program to create 4 processes, each printing a different number.\n"
                    "Here is a program that does it with the multiprocessing module:\n\npython\nCopy code\n"
                    f"{code}\n\nEach process prints its own number and the parent waits for all four.\n")
    result = grade_path(path, rubric, timeout=10)
    assert scores(result)["q6"] == 25, [(c.name, c.detail) for c in result.questions[-1].checks]

"""Loading: notebooks, the three script styles, and files that are not usable."""

from __future__ import annotations

import json

import pytest

from grader.attribution.attribute import attribute
from grader.grading.pipeline import asked
from grader.load.discover import discover
from grader.load.submission import SubmissionError, load
from tests.helpers import EXAMPLES, grade_path, scores, write_notebook

NBCONVERT = '''#!/usr/bin/env python
# coding: utf-8

# # Multiprocessing Assignment

# Q1. What is multiprocessing in python? Why is it useful?
# 
# It runs several processes in parallel on different CPU cores, so work finishes faster. Each process has its own interpreter and memory, so CPU-bound work is not held back by the GIL and one crash does not stop the rest.

# Q3. Write a python code to create a process using the multiprocessing module.

# In[3]:


import multiprocessing
import os

def worker():
    print("Worker process ID:", os.getpid())

if __name__ == "__main__":
    process = multiprocessing.Process(target=worker)
    process.start()
    process.join()


# Q5. How can we create a pool of worker processes in python using the multiprocessing module?

# In[ ]:


def square(x):
    return x * x

if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, [1, 2, 3, 4, 5]))
'''

PERCENT = '''# %% [markdown]
# ## Q1
# It runs several processes in parallel on different CPU cores, so work finishes faster. Each process has its own interpreter and memory, so CPU-bound work is not held back by the GIL and one crash does not stop the rest.

# %% [markdown]
# ## Q3

# %%
import multiprocessing
import os

def worker():
    print("Worker process ID:", os.getpid())

if __name__ == "__main__":
    process = multiprocessing.Process(target=worker)
    process.start()
    process.join()

# %% Q5
def square(x):
    return x * x

if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, [1, 2, 3, 4, 5]))
'''

PLAIN = '''"""
Q1) It runs several processes in parallel on different CPU cores, so work finishes faster. Each process has its own interpreter and memory, so CPU-bound work is not held back by the GIL and one crash does not stop the rest.
"""
import multiprocessing
import os

# Question 3
def worker():
    print("Worker process ID:", os.getpid())

def q3():
    process = multiprocessing.Process(target=worker)
    process.start()
    process.join()

# Question 5
def square(x):
    return x * x

def q5():
    with multiprocessing.Pool(2) as pool:
        print(pool.map(square, [1, 2, 3, 4, 5]))

if __name__ == "__main__":
    q3()
    q5()
'''


@pytest.mark.parametrize("style,text", [("nbconvert", NBCONVERT), ("percent", PERCENT), ("plain", PLAIN)])
def test_script_styles_attribute_prose_and_code(tmp_path, rubric, style, text):
    path = tmp_path / f"{style}.py"
    path.write_text(text)
    submission = load(style, path)
    assert submission.kind == "script"
    attribution = attribute(submission, asked(rubric))
    assert "parallel on different CPU cores" in attribution.answers["q1"]
    assert "What is multiprocessing" not in attribution.answers["q1"]
    lines = text.splitlines()
    worker_line = next(i for i, line in enumerate(lines, 1) if line.startswith("def worker"))
    square_line = next(i for i, line in enumerate(lines, 1) if line.startswith("def square"))
    region = {line: q for start, end, q in attribution.regions for line in range(start, end + 1)}
    assert region[worker_line] == "q3"
    assert region[square_line] == "q5"


@pytest.mark.parametrize("style,text", [("nbconvert", NBCONVERT), ("percent", PERCENT), ("plain", PLAIN)])
def test_script_styles_grade_their_code(tmp_path, rubric, style, text):
    path = tmp_path / f"{style}.py"
    path.write_text(text)
    result = grade_path(path, rubric)
    got = scores(result)
    assert got["q1"] == 10
    assert got["q3"] == 20  # a real process, a real printed PID, clean run
    assert got["q5"] == 25  # squares computed by the pool's workers


def test_not_utf8(tmp_path, rubric):
    path = tmp_path / "latin1.py"
    path.write_bytes("# Q1 r\xe9ponse\nprint('caf\xe9')\n".encode("latin-1"))
    with pytest.raises(SubmissionError, match=r"latin1\.py: not UTF-8"):
        load("latin1", path)
    result = grade_path(path, rubric)
    assert result.status == "error" and "not UTF-8" in result.error


@pytest.mark.parametrize(
    "content,reason",
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not a Jupyter notebook"),
        (json.dumps({"cells": [{"cell_type": "bogus", "source": ""}], "metadata": {}, "nbformat": 4,
                     "nbformat_minor": 5}), "not a valid notebook"),
    ],
)
def test_unusable_notebooks_give_one_line_reasons(tmp_path, content, reason):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(SubmissionError) as error:
        load("broken", path)
    message = str(error.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_discover_files_and_student_directories(tmp_path):
    write_notebook(tmp_path / "ann.ipynb", [])
    (tmp_path / "bob.py").write_text("print(1)\n")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "carl").mkdir()
    write_notebook(tmp_path / "carl" / "hw.ipynb", [])
    (tmp_path / "dora").mkdir()  # nothing handed in
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "a.py").write_text("print(1)\n")
    (tmp_path / "eve" / "b.py").write_text("print(2)\n")
    found = dict(discover([tmp_path]))
    assert set(found) == {"ann", "bob", "carl", "dora", "eve"}
    carl = load("carl", found["carl"])
    assert carl.path.name == "hw.ipynb" and carl.folder == tmp_path / "carl"
    with pytest.raises(SubmissionError, match="dora: no .ipynb or .py file"):
        load("dora", found["dora"])
    with pytest.raises(SubmissionError, match="eve: several hand-ins, expected one: a.py, b.py"):
        load("eve", found["eve"])


def test_examples_folder_is_discovered_whole():
    students = dict(discover([EXAMPLES]))
    assert "dana" in students and load("dana", students["dana"]).path.suffix == ".ipynb"
    assert "invalid_file" in students

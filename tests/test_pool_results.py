"""Pool results, end to end: any pool API's tasks are observed with their inputs, and a rubric
can accept any results, ask for exact values, or a relation per task."""

from __future__ import annotations

import pytest

from grader.grading.rubric import load_rubric
from tests.helpers import check, grade_path, write_notebook

RUBRIC = """assignment: pools
questions:
  - id: q5
    prompt: Square the numbers 1 to 5 with a pool.
    checks:
      - kind: value
        name: any results
        points: 1
        computed_by: pool
      - kind: value
        name: the squares
        points: 1
        expected: [1, 4, 9, 16, 25]
        ordered: false
        computed_by: pool
      - kind: value
        name: each task squares its input
        points: 1
        relation: x * x
        computed_by: pool
"""

SQUARE = "def f(x):\n    return x * x\n"
DOUBLE = "def f(x):\n    return 2 * x\n"

APIS = {
    "map": "with multiprocessing.Pool(2) as pool:\n    print(pool.map(f, [1, 2, 3, 4, 5]))",
    "imap": "with multiprocessing.Pool(2) as pool:\n    print(list(pool.imap(f, [1, 2, 3, 4, 5])))",
    "imap_unordered": "with multiprocessing.Pool(2) as pool:\n    for r in pool.imap_unordered(f, range(1, 6)):\n        print(r)",
    "starmap": "with multiprocessing.Pool(2) as pool:\n    print(pool.starmap(f, [(n,) for n in range(1, 6)]))",
    "apply_async": "with multiprocessing.Pool(2) as pool:\n    jobs = [pool.apply_async(f, (n,)) for n in range(1, 6)]\n    print([j.get() for j in jobs])",
    "apply": "with multiprocessing.Pool(2) as pool:\n    print([pool.apply(f, (n,)) for n in range(1, 6)])",
    "map_async": "with multiprocessing.Pool(2) as pool:\n    print(pool.map_async(f, [1, 2, 3, 4, 5]).get())",
    "executor_map": "from concurrent.futures import ProcessPoolExecutor\nwith ProcessPoolExecutor(2) as ex:\n    print(list(ex.map(f, [1, 2, 3, 4, 5])))",
    "executor_submit": "from concurrent.futures import ProcessPoolExecutor\nwith ProcessPoolExecutor(2) as ex:\n    print([ex.submit(f, n).result() for n in range(1, 6)])",
}


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    path = tmp_path_factory.mktemp("rubric") / "pools.yaml"
    path.write_text(RUBRIC)
    return load_rubric(path)


@pytest.mark.parametrize("api", sorted(APIS))
def test_every_pool_api_is_observed_with_its_inputs(tmp_path, pools, api):
    code = "import multiprocessing\n" + SQUARE + APIS[api]
    result = grade_path(write_notebook(tmp_path / f"{api}.ipynb", [("md", "Q5."), ("code", code)]), pools)
    assert [c.passed for c in result.questions[0].checks] == [True, True, True], [c.detail for c in result.questions[0].checks]


def test_doubling_passes_any_results_but_not_the_squares_nor_the_relation(tmp_path, pools):
    code = "import multiprocessing\n" + DOUBLE + APIS["map"]
    result = grade_path(write_notebook(tmp_path / "double.ipynb", [("md", "Q5."), ("code", code)]), pools)
    assert check(result, "q5", "any results").passed
    assert not check(result, "q5", "the squares").passed
    relation = check(result, "q5", "each task squares")
    assert not relation.passed and "expected x * x" in relation.detail


def test_squares_printed_by_the_parent_are_not_the_pool_s(tmp_path, pools):
    code = ("import multiprocessing\n" + SQUARE +
            "with multiprocessing.Pool(2) as pool:\n    pool.map(abs, [-7])\nprint([f(n) for n in range(1, 6)])")
    result = grade_path(write_notebook(tmp_path / "parent.ipynb", [("md", "Q5."), ("code", code)]), pools)
    assert not any(c.passed for c in result.questions[0].checks)

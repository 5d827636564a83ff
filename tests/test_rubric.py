"""Rubric validation: mistakes are caught with file, line and key, before student code runs."""

from __future__ import annotations

from dataclasses import fields

import pytest

from grader.cli import main
from grader.grading.checks import CHECK_KINDS
from grader.grading.rubric import DEFAULT_RUBRIC, RubricError, load_rubric
from grader.run.limits import Limits
from tests.helpers import write_notebook

GOOD = """\
assignment: Tiny
questions:
  - id: q1
    prompt: Say something.
    points: 2
    checks:
      - kind: concepts
        points: 2
        groups: [[process]]
"""


def write(tmp_path, text):
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    return path


def test_shipped_rubric_loads_with_six_questions():
    rubric = load_rubric(DEFAULT_RUBRIC)
    assert [q.id for q in rubric.questions] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert rubric.max_score == 100
    assert any(check.hidden for q in rubric.questions for check in q.checks)


def test_every_check_kind_is_registered():
    assert set(CHECK_KINDS) == {"concepts", "processes", "real_pids", "separate_writers", "value",
                                "ran_cleanly", "code", "withheld"}


@pytest.mark.parametrize(
    "change,line,words",
    [
        (("groups: [[process]]", "groups: [[process]]\n        pointz: 3"), 10, ["unknown key 'pointz'"]),
        (("points: 2\n        groups", "points: two\n        groups"), 8, ["points", "expected a number", "'two'"]),
        (("kind: concepts", "kind: vibes"), 7, ["unknown check kind 'vibes'", "concepts"]),
        (("assignment: Tiny", "assignment: Tiny\nextra: 1"), 2, ["unknown key 'extra'"]),
        (("groups: [[process]]", "groups: process"), 9, ["groups", "a list of (a list of (a string))"]),
        (("    points: 2\n    checks", "    points: 5\n    checks"), 5, ["points is 5 but its checks add up to 2"]),
        (("groups: [[process]]", "groups: [[process]]\n        hidden: maybe"), 10, ["hidden", "true or false"]),
        (("      - kind: concepts\n", "      - name: x\n"), 7, ["missing key 'kind'"]),
    ],
)
def test_rubric_errors_name_file_line_and_key(tmp_path, change, line, words):
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RubricError) as error:
        load_rubric(path)
    message = str(error.value)
    assert message.startswith(f"{path}:{line}:"), message
    for word in words:
        assert word in message


def test_invalid_yaml(tmp_path):
    path = write(tmp_path, "assignment: [unclosed\n")
    with pytest.raises(RubricError, match=r"rubric\.yaml:\d+: not valid YAML"):
        load_rubric(path)


def test_check_parameters_are_validated_by_the_check_class(tmp_path):
    path = write(tmp_path, GOOD.replace("groups: [[process]]", "groups: [[process]]\n        full_marks_at: 5"))
    with pytest.raises(RubricError, match="full_marks_at is 5 but there are 1 groups"):
        load_rubric(path)


def test_bad_rubric_exits_2_before_any_student_code_runs(tmp_path, capsys):
    marker = tmp_path / "ran.txt"
    write_notebook(tmp_path / "s.ipynb", [("code", f"open({str(marker)!r}, 'w').write('ran')")])
    bad = write(tmp_path, GOOD.replace("kind: concepts", "kind: vibes"))
    assert main(["grade", str(tmp_path / "s.ipynb"), "--rubric", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "unknown check kind 'vibes'" in capsys.readouterr().err
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_limits_section_sets_limits_with_units(tmp_path):
    path = write(tmp_path, GOOD.replace("assignment: Tiny\n", "assignment: Tiny\nlimits:\n  timeout: 12\n  memory: 512M\n  processes: 16\n"))
    limits = load_rubric(path).limits
    assert (limits.timeout, limits.memory, limits.processes) == (12.0, 512 << 20, 16)
    assert limits.files == Limits().files  # the rest keep their defaults
    # each of the type Limits declares: setrlimit takes no 16.0 for a process count
    assert [type(getattr(limits, f.name)) for f in fields(Limits)] == [type(getattr(Limits(), f.name)) for f in fields(Limits)]


@pytest.mark.parametrize("line,words", [("  memry: 1G", "unknown key 'memry'"), ("  memory: lots", "expected a size"),
                                        ("  timeout: -3", "expected a positive number"),
                                        ("  processes: 2.5", "expected a positive whole number"),
                                        ("  cpu_time: yes", "expected a positive whole number")])
def test_bad_limits_are_rejected_with_line(tmp_path, line, words):
    path = write(tmp_path, GOOD.replace("assignment: Tiny\n", f"assignment: Tiny\nlimits:\n{line}\n"))
    with pytest.raises(RubricError, match=rf"rubric\.yaml:3: limits.*{words}"):
        load_rubric(path)


def test_command_line_limits_override_the_rubric(tmp_path):
    rubric = GOOD.replace("assignment: Tiny\n", "assignment: Tiny\nlimits:\n  timeout: 1\n")
    rubric = rubric.replace("      - kind: concepts\n        points: 2\n        groups: [[process]]\n",
                            "      - kind: ran_cleanly\n        points: 2\n")
    path = write(tmp_path, rubric)
    script = tmp_path / "slow.py"
    script.write_text("# Q1\nimport time\ntime.sleep(2)\n")
    assert main(["check", str(script), "--rubric", str(path)]) == 1  # 1 s from the rubric: too short
    assert main(["check", str(script), "--rubric", str(path), "--timeout", "10"]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(script), "--memory", "lots"])
    assert exit_.value.code == 2


def test_missing_required_key_names_the_mapping_line(tmp_path):
    path = write(tmp_path, GOOD.replace("    prompt: Say something.\n", ""))
    with pytest.raises(RubricError, match=r"rubric\.yaml:3: questions\[0\]: missing key 'prompt'"):
        load_rubric(path)


def test_a_python_tag_in_the_rubric_is_refused_with_its_line_and_never_built(tmp_path, capsys):
    marker = tmp_path / "built"
    tagged = GOOD.replace("assignment: Tiny\n", f"assignment: !!python/object/apply:os.system ['touch {marker}']\n")
    path = write(tmp_path, tagged)
    with pytest.raises(RubricError, match=r"rubric\.yaml:1: not plain YAML data: .*python/object/apply"):
        load_rubric(path)
    assert main(["check", str(path), "--rubric", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err and not marker.exists()

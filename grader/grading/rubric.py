"""Read and validate a YAML rubric before any student code runs.

An instructor's typo must not silently zero a class, so every unknown key, wrong type or
unknown check kind is an error naming the file, the line and the key. Check parameters are
validated against the fields of the check's class in `grader.grading.checks`, so adding a check kind
needs no change here.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from grader.grading.checks import CHECK_KINDS, Check
from grader.run.limits import LIMIT_NAMES, Limits, limit_value


class RubricError(Exception):
    """The message names the rubric file, the line and what is wrong."""



def _default_rubric() -> Path:
    """The shipped rubric: package data of an installed grader (`grader/rubrics/`, built
    from the repository's `rubrics/`, see pyproject.toml), else the repository's own file."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "rubrics", package.parent / "rubrics"):
        if (candidate / "multiprocessing.yaml").is_file():
            return candidate / "multiprocessing.yaml"
    return package / "rubrics" / "multiprocessing.yaml"  # missing: load_rubric says so


DEFAULT_RUBRIC = _default_rubric()


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    points: float
    checks: tuple[Check, ...]

    @property
    def asks_code(self) -> bool:
        """Any check beyond reading the text answer: the answer is code."""
        return any(not check.reads_text for check in self.checks)


@dataclass(frozen=True)
class Rubric:
    path: Path
    assignment: str
    questions: tuple[Question, ...]
    limits: Limits = field(default_factory=Limits)  # the defaults, with the rubric's `limits:` on them
    late_penalty: float = 0.0  # share of the maximum score taken off a hand-in Canvas marked late

    @property
    def max_score(self) -> float:
        return sum(question.points for question in self.questions)


_TOP_KEYS: dict[str, object] = {"assignment": str, "limits": dict, "questions": list, "late_penalty": float}
_QUESTION_KEYS: dict[str, object] = {"id": str, "prompt": str, "points": float, "checks": list}
_RENAMED = {"pass": "on_pass", "fail": "on_fail"}  # YAML keys that are Python keywords


def load_rubric(path: Path) -> Rubric:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read rubric: {exc}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise RubricError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return _Reader(path).rubric(root)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._constructor = yaml.SafeLoader("")  # builds a node's value: what safe_load would give

    def data(self, node: yaml.Node) -> typing.Any:
        try:
            return self._constructor.construct_document(node)
        except yaml.YAMLError as exc:  # a tag such as !!python/object: never built, refused here
            mark = getattr(exc, "problem_mark", None) or node.start_mark
            raise RubricError(f"{self.path}:{mark.line + 1}: not plain YAML data: "
                              f"{getattr(exc, 'problem', None) or exc}") from None

    def fail(self, node: yaml.Node | None, message: str) -> typing.NoReturn:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        raise RubricError(f"{self.path}{line}: {message}")

    def mapping(self, node: yaml.Node | None, where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where}: expected a mapping of keys to values")
        entries = {}
        for key, value in node.value:
            if key.value in entries:
                self.fail(key, f"{where}: key '{key.value}' appears twice")
            entries[key.value] = (key, value)
        return entries

    def value(self, node: yaml.Node, hint: object, where: str) -> object:
        value = self.data(node)
        if not _conforms(value, hint):
            self.fail(node, f"{where}: expected {_describe(hint)}, got {value!r}")
        return float(value) if hint is float else value

    def fields(self, node: yaml.Node, entries: dict, allowed: dict[str, object], required: set[str],
               where: str) -> dict:
        values = {}
        for key, (key_node, value_node) in entries.items():
            if key not in allowed:
                self.fail(key_node, f"{where}: unknown key '{key}' (expected one of: {', '.join(sorted(allowed))})")
            values[key] = self.value(value_node, allowed[key], f"{where}.{key}")
        for key in sorted(required - set(values)):
            self.fail(node, f"{where}: missing key '{key}'")
        return values

    def rubric(self, root: yaml.Node | None) -> Rubric:
        entries = self.mapping(root, "rubric")
        top = self.fields(root, entries, _TOP_KEYS, {"assignment", "questions"}, "rubric")
        questions = []
        seen: set[str] = set()
        for index, node in enumerate(entries["questions"][1].value):
            question = self.question(node, f"questions[{index}]")
            if question.id in seen:
                self.fail(node, f"questions[{index}]: question id '{question.id}' used twice")
            seen.add(question.id)
            questions.append(question)
        if not questions:
            self.fail(entries["questions"][1], "questions: the rubric has no questions")
        limits = self.limits(entries["limits"][1]) if "limits" in entries else Limits()
        late_penalty = top.get("late_penalty", 0.0)
        if not 0 <= late_penalty <= 1:
            self.fail(entries["late_penalty"][1], f"late_penalty: expected a share of the maximum score "
                                                  f"from 0 to 1 (0.1 takes off 10%), got {late_penalty:g}")
        return Rubric(self.path, top["assignment"], tuple(questions), limits, late_penalty)

    def limits(self, node: yaml.Node) -> Limits:
        """Sizes may be written with units ('1 GiB', '512M'); times are seconds."""
        values: dict[str, typing.Any] = {}
        for key, (key_node, value_node) in self.mapping(node, "limits").items():
            if key not in LIMIT_NAMES:
                self.fail(key_node, f"limits: unknown key '{key}' (expected one of: {', '.join(sorted(LIMIT_NAMES))})")
            try:
                values[key] = limit_value(key, self.data(value_node))
            except ValueError as exc:
                self.fail(value_node, f"limits.{key}: {exc}")
        return replace(Limits(), **values)

    def question(self, node: yaml.Node, where: str) -> Question:
        entries = self.mapping(node, where)
        values = self.fields(node, entries, _QUESTION_KEYS, {"id", "prompt", "checks"}, where)
        checks = tuple(
            self.check(check_node, f"{where}.checks[{index}]")
            for index, check_node in enumerate(entries["checks"][1].value)
        )
        if not checks:
            self.fail(entries["checks"][1], f"{where}.checks: a question needs at least one check")
        total = sum(check.points for check in checks)
        points = values.get("points", total)
        if abs(points - total) > 1e-9:
            self.fail(entries.get("points", (node,))[0],
                      f"{where}: points is {points:g} but its checks add up to {total:g}")
        if not values["id"].strip():
            self.fail(node, f"{where}.id: must not be empty")
        return Question(values["id"].strip().lower(), values["prompt"], points, checks)

    def check(self, node: yaml.Node, where: str) -> Check:
        entries = self.mapping(node, where)
        if "kind" not in entries:
            self.fail(node, f"{where}: missing key 'kind' (one of: {', '.join(sorted(CHECK_KINDS))})")
        kind_node = entries.pop("kind")[1]
        kind = kind_node.value
        if kind not in CHECK_KINDS:
            self.fail(kind_node, f"{where}.kind: unknown check kind '{kind}' (one of: {', '.join(sorted(CHECK_KINDS))})")
        cls = CHECK_KINDS[kind]
        hints = typing.get_type_hints(cls)
        params = {field.name: hints[field.name] for field in dataclasses.fields(cls) if field.init}
        allowed = {yaml_key: params[name] for yaml_key, name in _yaml_names(params).items()}
        required = {key for key, name in _yaml_names(params).items() if _is_required(cls, name)}
        values = self.fields(node, entries, allowed, required, f"{where} ({kind})")
        try:
            return cls(**{_RENAMED.get(key, key): value for key, value in values.items()})
        except ValueError as exc:
            self.fail(node, f"{where} ({kind}): {exc}")


def _yaml_names(params: dict[str, object]) -> dict[str, str]:
    inverse = {python: yaml_key for yaml_key, python in _RENAMED.items()}
    return {inverse.get(name, name): name for name in params}


def _is_required(cls: type, name: str) -> bool:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _conforms(value: object, hint: object) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is object or hint is typing.Any:
        return True
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)  # type: ignore[arg-type]


def _describe(hint: object) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, tuple):
        return f"a list of ({_describe(args[0])})"
    if args:
        return " or ".join(_describe(arg) for arg in args if arg is not type(None))
    names: dict[object, str] = {float: "a number", int: "a whole number", str: "a string",
                                bool: "true or false", list: "a list"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))

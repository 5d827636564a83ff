"""The registry of check kinds: what a rubric can ask about one question.

Each kind is one frozen dataclass whose fields are its rubric parameters (the rubric loader
validates YAML against them) and whose `evaluate` looks at the question's evidence and says
how much of its points it earned and why. A new kind is one class with `@register`.
Checks judge what the probe observed, never what the student's code claims in print.
"""


from grader.grading.checks.base import CHECK_KINDS, Check, Outcome
from grader.grading.checks.code import Code
from grader.grading.checks.concepts import Concepts
from grader.grading.checks.processes import Processes, RealPids, SeparateWriters
from grader.grading.checks.running import RanCleanly, child_failure
from grader.grading.checks.values import Value
from grader.grading.checks.withheld import Withheld

# every kind, each registered in CHECK_KINDS by importing its module
__all__ = ["CHECK_KINDS", "Check", "Code", "Concepts", "Outcome", "Processes", "RanCleanly", "RealPids",
           "SeparateWriters", "Value", "Withheld", "child_failure"]

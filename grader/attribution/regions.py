"""Passes 2 to 4 of attribution: regions (everything after a marker is its question's until
the next), shape (header numbers shifted to fit the kinds of answers found: renumbered work),
and order (too few markers: the questions matched to the cells by order and shape)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grader.attribution.markers import Line, Marker, word_list
from grader.attribution.model import Asked, Found
from grader.load.submission import Cell


@dataclass
class _Region:
    start: int  # index into lines
    end: int  # exclusive
    label: str | None
    how: Found
    has_code: bool
    has_prose: bool


def split_regions(lines: list[Line], markers: dict[int, tuple[Marker | None, str]],
             asked: Sequence[Asked]) -> list[_Region]:
    starts = sorted(markers)
    bounds = list(zip([0, *starts], [*starts, len(lines)]))
    regions = []
    prompt_words = [set(word_list(q.prompt)) for q in asked]
    for start, end in bounds:
        if end <= start:
            continue
        marker = markers.get(start, (None, ""))[0] if start in markers else None
        body = lines[start:end]
        code = any(not l.prose and l.text.strip() for l in body)
        prose_words = []
        for offset, l in enumerate(body):
            if not l.prose:
                continue
            text = markers[start][1] if offset == 0 and start in markers else l.text
            prose_words += [w for w in word_list(text) if not any(w in p for p in prompt_words)]
        regions.append(_Region(start, end, marker.question if marker else None,
                               marker.how if marker else Found.MISSING, code, len(prose_words) >= 3))
    return regions


_INF = float("inf")


def fit_shapes(regions: list[_Region], asked: Sequence[Asked]) -> list[str | None]:
    """Questions for the regions: their labels, unless the shapes say the header numbers are
    off (code alone under a text question while a later code question has none).
    Dynamic programming over (region, question), in order: header labels may move forward at a
    cost, prompts and metadata may not. The preamble and the regions of questions the rubric does
    not ask keep no question."""
    ids = [q.id for q in asked]
    position = {q: i for i, q in enumerate(ids)}
    labels = [r.label for r in regions]
    tail = [r for r in regions if r.label in position]
    if not tail:
        return labels

    def cost(region: _Region, j: int) -> float:
        c = 0.0
        if region.label != ids[j]:
            if region.how in (Found.PROMPT, Found.METADATA) or j < position[region.label or ""]:
                return _INF  # a skipped number shifts the answers after it forward, never back
            c += 1.0
        if region.has_code and not region.has_prose and not asked[j].asks_code:
            c += 3.0
        elif region.has_prose and not region.has_code and asked[j].asks_code:
            c += 0.5
        return c

    n, m = len(tail), len(ids)
    best = [[_INF] * m for _ in range(n)]
    back = [[-1] * m for _ in range(n)]
    best[0] = [cost(tail[0], j) for j in range(m)]
    for i in range(1, n):
        for j in range(m):
            here = cost(tail[i], j)
            if here == _INF:
                continue
            for k in range(j + 1):
                if best[i - 1][k] == _INF:
                    continue
                # two regions for one question: a header repeated, or one merged into another
                step = 0.0 if k < j or tail[i].label == tail[i - 1].label else 2.5
                total = best[i - 1][k] + here + step
                if total < best[i][j]:
                    best[i][j], back[i][j] = total, k
    j = min(range(m), key=lambda col: best[n - 1][col])
    keep = sum(cost(r, position[r.label]) for r in tail if r.label)
    if best[n - 1][j] >= keep:  # also when no order fits (INF): the labels stand
        return labels
    chosen = [0] * n
    for i in range(n - 1, -1, -1):
        chosen[i] = j
        j = back[i][j]
    fitted = iter(ids[j] for j in chosen)
    return [next(fitted) if r.label in position else r.label for r in regions]


def fall_back_on_order(cells: Sequence[Cell], lines: list[Line], line_question: list[str | None],
                        found: dict[str, Found], asked: Sequence[Asked],
                        unasked: set[int]) -> tuple[list[str | None], dict[str, Found]]:
    """Fewer than half of the questions are marked: match the cells to the questions by
    order and shape, keeping what the markers say where they say it (`unasked`: lines under
    a header of a question the rubric does not ask, which stay with no question)."""
    kinds: list[str] = []
    labels: dict[int, tuple[str, Found]] = {}
    by_cell: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_cell.setdefault(line.cell, []).append(i)
    for cell in cells:
        body = by_cell.get(cell.index, [])
        if body and all(i in unasked for i in body):
            kinds.append("empty")
        elif any(not lines[i].prose and lines[i].text.strip() for i in body):
            kinds.append("code")
        elif any(lines[i].text.strip() for i in body):
            kinds.append("prose")
        else:
            kinds.append("empty")
        question = next((line_question[i] for i in body if line_question[i] is not None), None)
        if question is not None:
            labels[cell.index] = (question, found.get(question, Found.HEADER))
    assigned = _by_order(kinds, labels, asked)
    new_found: dict[str, Found] = {}
    for index, question in enumerate(assigned):
        if question is not None and question not in new_found:
            kept = labels.get(index, (None, Found.ORDER))
            new_found[question] = kept[1] if kept[0] == question else Found.ORDER
    return [None if i in unasked else assigned[line.cell] for i, line in enumerate(lines)], new_found


def _by_order(kinds: list[str], labels: dict[int, tuple[str, Found]], asked: Sequence[Asked]) -> list[str | None]:
    """Questions for the cells, taken to answer the questions in order: text where text is
    asked and code where code is. Dynamic programming over (cell, question), with state 0 the
    preamble (a title before any answer); a cell under a marker keeps its question unless the
    order leaves no other way (a header) or never (a prompt, metadata)."""
    m = len(asked)
    order = [i for i, kind in enumerate(kinds) if kind != "empty"]
    if not order:
        return [None] * len(kinds)

    def cost(i: int, j: int) -> float:
        kind = kinds[i]
        label = labels.get(i)
        c = 0.0
        if label is not None and (j == 0 or label[0] != asked[j - 1].id):
            c += 100.0 if label[1] in (Found.PROMPT, Found.METADATA) else 2.0 * m + 1  # more than all skips
        if j == 0:
            return c + (3.0 if kind == "code" else 0.1)
        question = asked[j - 1]
        if kind == "code" and not question.asks_code:
            c += 3.0
        elif kind == "prose" and question.asks_code:
            c += 0.3  # an explanation under code is common, an answer in order more so
        return c

    n = len(order)
    best = [[_INF] * (m + 1) for _ in range(n)]
    back = [[-1] * (m + 1) for _ in range(n)]
    for j in range(m + 1):
        best[0][j] = cost(order[0], j) + 2.0 * max(0, j - 1)  # questions skipped before the first
    for a in range(1, n):
        for j in range(m + 1):
            here = cost(order[a], j)
            for k in range(j + 1):
                if best[a - 1][k] == _INF:
                    continue
                skipped = max(0, j - k - 1) * 2.0  # questions left with no cell
                same = 0.0 if k != j or j == 0 else (0.2 if kinds[order[a]] == kinds[order[a - 1]] else 0.0)
                total = best[a - 1][k] + here + skipped + same
                if total < best[a][j]:
                    best[a][j], back[a][j] = total, k
    j = min(range(m + 1), key=lambda col: best[n - 1][col] + 2.0 * (m - col))
    chosen = [0] * n
    for a in range(n - 1, -1, -1):
        chosen[a] = j
        j = back[a][j]
    result: list[str | None] = [None] * len(kinds)
    current: str | None = None
    by_cell = dict(zip(order, chosen))
    for i in range(len(kinds)):
        if i in by_cell:
            current = asked[by_cell[i] - 1].id if by_cell[i] else None
        result[i] = current
    return result

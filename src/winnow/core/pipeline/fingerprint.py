"""What a run read: the input files with their sizes and modification times.

``--resume`` compares the planned input with the one recorded when the run started and
refuses when a file was added, removed or changed (tasks are matched by index, so a new
file would shift every later task and mix rows of different files).

Example:
    >>> from winnow.core.io.readers import ReadTask
    >>> a = input_stamps([ReadTask(0, ["/in/a.jsonl"], "jsonl", 10, stamps=[(10, "1.0")])])
    >>> b = input_stamps([ReadTask(0, ["/in/a.jsonl"], "jsonl", 12, stamps=[(12, "2.0")])])
    >>> describe_input_change(a, b)
    '1 changed (/in/a.jsonl: size 10 -> 12, modified)'
    >>> describe_input_change(a, a) is None
    True
"""

from __future__ import annotations


def input_stamps(tasks) -> list[list]:
    """``[[task, file, size, mtime], ...]`` for every file of every planned task."""
    out = []
    for t in tasks:
        stamps = t.stamps or [(None, None)] * len(t.files)
        for f, (size, mtime) in zip(t.files, stamps):
            out.append([t.index, f, size, mtime])
    return out


def describe_input_change(before: list, now: list, limit: int = 3) -> str | None:
    """A one-line description of how the input changed, or None when it did not."""
    if [list(x) for x in before] == [list(x) for x in now]:
        return None
    old = {x[1]: x for x in before}
    new = {x[1]: x for x in now}
    added = [f for f in new if f not in old]
    removed = [f for f in old if f not in new]
    changed = []
    for f in new:
        if f in old and old[f][2:] != new[f][2:]:
            what = []
            if old[f][2] != new[f][2]:
                what.append(f"size {old[f][2]} -> {new[f][2]}")
            if old[f][3] != new[f][3]:
                what.append("modified")
            changed.append(f"{f}: {', '.join(what)}")
    moved = [f for f in new if f in old and old[f][0] != new[f][0]]

    def fmt(label, items):
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return f"{len(items)} {label} ({', '.join(items[:limit])}{more})"

    parts = [fmt(lbl, xs) for lbl, xs in (("added", added), ("removed", removed), ("changed", changed)) if xs]
    if not parts and moved:
        parts.append(fmt("regrouped", moved))
    return "; ".join(parts) or "the task plan differs"

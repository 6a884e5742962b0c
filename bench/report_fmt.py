"""Formatting shared by the reports bench/run.py writes into RESULTS.md (its own tables
and bench/mp_report.py's)."""

from __future__ import annotations


def fmt_size(size: int) -> str:
    return "%d B" % size if size < 1024 else "%d KiB" % (size // 1024)


def at_least(vals: "list[float | None]", bound: float) -> "bool | None":
    """Whether every value reaches bound; None when one is missing."""
    if any(v is None for v in vals):
        return None
    return all(v >= bound for v in vals)  # type: ignore[operator]


def verdict(ok: "bool | None") -> str:
    """The 'met' column of a target table."""
    return "n/a" if ok is None else ("yes" if ok else "**no**")

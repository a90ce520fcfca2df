"""Code-prefix filters: every "inside this area" filter on a stored code goes through here."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, true


def prefix_range(column, prefix: str) -> ColumnElement[bool]:  # type: ignore[no-untyped-def]
    """`column LIKE 'prefix%'` for digit codes, written as a range so that a B-tree index serves it:
    SQLite's LIKE is case-insensitive and never uses an ordinary index, PostgreSQL's needs
    text_pattern_ops outside the C collation. The upper bound is the prefix plus one as a number of
    the same length (not a punctuation character, which locale collations ignore)."""
    if not prefix:
        return true()
    if not prefix.isdigit():
        raise ValueError(f"code prefix {prefix!r}: digits only")
    if set(prefix) == {"9"}:
        return column >= prefix
    return and_(column >= prefix, column < str(int(prefix) + 1).zfill(len(prefix)))


def leading(column, length: int) -> ColumnElement[str]:  # type: ignore[no-untyped-def]
    """The first `length` digits of a stored code in SQL (its area at that level), to group rows by
    area in the database: the one place a statement cuts a code."""
    return func.substr(column, 1, length)

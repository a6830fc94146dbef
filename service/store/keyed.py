"""Looking rows up by many keys at once, with a plan PostgreSQL cannot get wrong.

`WHERE key IN (:k1, ..., :k500)` is the obvious statement, but psycopg prepares a statement
on its sixth run and PostgreSQL may then keep one generic plan for it. A generic plan made
while the table was small is a sequential scan (rightly, then), and it stays for the life
of the connection unless an ANALYZE invalidates it: with autovacuum off, or while one run
fills the table, every later lookup reads the whole table once per key list (populating
100,000 links took 387 s instead of 14; issue #10). An array parameter alone
(`key = ANY(:keys)`) has the same fate: its generic plan is a sequential scan as well.

So on PostgreSQL the keys travel as one array parameter and each one is looked up alone:

    SELECT found.* FROM unnest(:keys) AS wanted(value)
    JOIN LATERAL (SELECT ... WHERE key = wanted.value LIMIT 1) AS found ON true

A subquery with a LIMIT (or an aggregate) is never flattened into a join, so the only plan
is a loop of single-key lookups, which an index serves at any table size, generic plan or
custom, statistics or none. SQLite plans every statement afresh and always uses the index
for an IN list: it keeps the IN list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, TableValuedAlias
from sqlalchemy.types import TypeEngine

KEYS = "keys"  # the parameter of the keys in a query built once (`first_per_key_query`)


def wanted_keys(keys: Sequence[Any] | None, key_type: TypeEngine[Any]) -> TableValuedAlias:
    """`unnest(:keys) AS wanted(value)`: the keys as one array parameter, one row per key
    (keys None: the parameter is named KEYS and given at execution)."""
    if keys is None:
        array = sa.bindparam(KEYS, type_=ARRAY(key_type))
    else:
        array = sa.bindparam(None, list(keys), type_=ARRAY(key_type))
    return sa.func.unnest(array).table_valued("value").render_derived(name="wanted")


def per_key(
    keys: Sequence[Any] | None,
    key_type: TypeEngine[Any],
    build: Callable[[ColumnElement[Any]], Select[Any]],
) -> Select[Any]:
    """PostgreSQL: the rows of `build(key)` for every key, in the order of `keys` (None: the
    parameter KEYS, given at execution).

    `build` gets the key as a column and must return a statement that cannot be merged into
    a join (one with a LIMIT or an aggregate), so that each key is one index lookup.
    """
    wanted = wanted_keys(keys, key_type)
    found = build(wanted.c.value).lateral("found")
    return sa.select(*found.c).select_from(wanted).join(found, sa.true())


def first_per_key(
    dialect: str,
    key: ColumnElement[Any],
    keys: Sequence[Any] | None,
    *columns: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]] = (),
    for_update: bool = False,
) -> Select[Any]:
    """`SELECT columns WHERE key IN keys AND where`, for a unique `key` (or when any one
    matching row per key will do: PostgreSQL returns one, SQLite every one).

    Result columns keep their names (`row.id`, ...). With `for_update`, PostgreSQL locks the
    rows one key after the other in the order of `keys` (pass them sorted to lock in order).
    `keys` None leaves them to the parameter KEYS, given at execution (see `first_per_key_query`).
    """
    if dialect != "postgresql":
        wanted = sa.bindparam(KEYS, expanding=True) if keys is None else keys
        stmt = sa.select(*columns).where(key.in_(wanted), *where)
        return stmt.with_for_update() if for_update else stmt

    def one_row(value: ColumnElement[Any]) -> Select[Any]:
        # A literal LIMIT 1: a bound one would leave the generic plan guessing.
        stmt = sa.select(*columns).where(key == value, *where).limit(sa.literal_column("1"))
        return stmt.with_for_update() if for_update else stmt

    return per_key(keys, key.type, one_row)


@functools.cache
def first_per_key_query(
    dialect: str, key: sa.Column[Any], columns: tuple[sa.Column[Any], ...], for_update: bool = False
) -> Select[Any]:
    """`first_per_key` of table columns, built once (building the statement costs more than
    running it): run it as `session.execute(query, {KEYS: keys})`."""
    return first_per_key(dialect, key, None, *columns, for_update=for_update)

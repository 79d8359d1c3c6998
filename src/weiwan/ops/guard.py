"""State transitions by conditional update, safe on SQLite and PostgreSQL alike.

``SELECT … FOR UPDATE`` is a no-op on SQLite: two transactions can both read a row as
"open" and both change it, the second overwriting the first. A transition written as
``UPDATE … SET new WHERE id = :id AND <the state that was read>`` holds on every database:
the database serialises the writes, re-checks the condition for the second one, and the
row count tells whether this transaction won. The caller raises when it lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session


def transition(
    session: Session,
    model: type[Any],
    row_id: int,
    expected: Mapping[str, object],
    values: Mapping[str, object],
) -> bool:
    """Set ``values`` on row ``row_id`` of ``model`` only if its columns still hold
    ``expected`` (``None`` compares as ``IS NULL``); whether the row was changed.

    Call it before changing the loaded object's attributes (the pending changes would be
    flushed first, unconditionally); the loaded object gets ``values`` when it succeeds.
    """
    conditions = [model.id == row_id]
    for name, value in expected.items():
        column = getattr(model, name)
        conditions.append(column.is_(None) if value is None else column == value)
    result = session.execute(
        update(model).where(*conditions).values(**values),
        execution_options={"synchronize_session": "evaluate"},
    )
    return cast(CursorResult[Any], result).rowcount == 1

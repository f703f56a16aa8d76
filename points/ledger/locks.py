"""The ledger's lock on a household: its balance row, locked until the transaction ends. Every posting takes it
(services.post_entries) before it reads or writes anything of the household, and so does whoever must see the household
settled before writing beside the ledger (the shop before it takes stock, a 清零, a move to another grid)."""
import functools

from ..extensions import attach, conflict_insert, connection, db
from .models import HouseholdBalance

_BALANCES = HouseholdBalance.__table__


def hold_all(household_ids: list[int]) -> dict[int, HouseholdBalance]:
    """Lock the households' balances, in id order, until the transaction ends: for a caller that reads under the
    locks before it posts to them (a 清零). Postings for them later in the transaction find them locked already."""
    return lock_balances(household_ids)


def hold(household_id: int) -> int:
    """Lock the household's balance until the transaction ends, and return it: for a caller whose own checks must
    see the household settled before it writes (the shop's idempotency key, before it takes stock); a posting for it
    later in the transaction finds it locked already. Raises nothing for a household without entries (its balance
    is 0)."""
    return lock_balances([household_id])[household_id].balance


def lock_balances(household_ids: list[int]) -> dict[int, HouseholdBalance]:
    """Each household's balance row (made at 0 where missing), locked until the transaction ends, in id order, by
    one statement: an upsert that rewrites the balance as it is (on SQLite, a write takes the database's write lock
    before anything is read). A household locked already in this transaction (hold(), then a posting) is not asked
    for again: nobody else has written its row since, and this transaction writes it only through these objects."""
    db.session.flush()  # the statement below is the table's: what the session holds unwritten goes first
    held = _held_balances()
    missing = sorted(set(household_ids) - held.keys())
    if missing:
        rows = [dict(household_id=household_id, balance=0) for household_id in missing]
        locked = connection().execute(_balance_lock(db.engine.dialect.name),
                                                 rows if len(rows) > 1 else rows[0])
        held.update((row.household_id, attach(HouseholdBalance, row._mapping, refresh=True)) for row in locked)
    return {household_id: held[household_id] for household_id in sorted(household_ids)}


def _held_balances() -> dict[int, HouseholdBalance]:
    """The balances locked so far in the session's innermost transaction (a savepoint's locks go with its
    rollback, so it keeps its own)."""
    session = db.session()
    connection()  # begins the transaction, if none has begun
    transaction = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get("held_balances")
    if memo is None or memo[0] is not transaction:
        memo = session.info["held_balances"] = (transaction, {})
    return memo[1]


@functools.cache
def _balance_lock(dialect: str):
    """The balance rows, made at 0 where missing, rewritten as they are (which locks them) and returned, in the order
    of the rows given: the table's statement, whose rows attach() makes the session's objects as they are now."""
    statement = conflict_insert(dialect)(_BALANCES)
    return statement.on_conflict_do_update(
        index_elements=["household_id"], set_={"balance": _BALANCES.c.balance},
    ).returning(*_BALANCES.columns, sort_by_parameter_order=True)

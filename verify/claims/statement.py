"""A claim's statement as data (SPEC §5, issue 20): hypotheses, conclusions, reading, false twins.

Each claim module declares ``STATEMENT_DATA`` (a :class:`Statement`) and ``TWINS`` (false variants,
each changing one conclusion or constant so that the mathematics makes it false).  Its ``decide``
reads every claimed value from the statement it is given and returns one :class:`Decision` per
conclusion, computed from the evidence; :func:`combine` turns those into a three-way verdict.  The
same evidence therefore decides the true statement and each twin, and ``verify falsify`` checks that
every twin comes out REFUTED.

This module is pure data and logic: it imports nothing from the rest of the toolkit except the
verdict names of :mod:`verify.claims.record`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterable

from verify.claims.record import CONFIRMED, INCONCLUSIVE, REFUTED

__all__ = ["Conclusion", "Statement", "Twin", "Decision", "combine", "KINDS", "RELATIONS",
           "compare", "conclusions_table", "decision", "judge", "twins_table"]

KINDS = ("count", "rate", "factor", "sign", "bound", "probability", "identity", "value", "class")
RELATIONS = ("==", "<=", ">=", "~")


@dataclass(frozen=True)
class Conclusion:
    """One computable conclusion of a statement.

    ``relation`` reads "observed RELATION claimed": "==" (equal within the observation's error),
    "<=" / ">=" (the claimed value is an upper / lower bound on what is observed), "~" (same order
    or same law).
    """

    key: str
    text: str
    kind: str
    claimed: object
    relation: str = "=="

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"conclusion {self.key!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.relation not in RELATIONS:
            raise ValueError(f"conclusion {self.key!r}: relation must be one of {RELATIONS}, "
                             f"got {self.relation!r}")


@dataclass(frozen=True)
class Statement:
    """Hypotheses (name -> as stated, with the paper's constants), conclusions, reading."""

    hypotheses: dict = field(default_factory=dict)
    conclusions: tuple = ()
    reading: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conclusions", tuple(self.conclusions))
        keys = [c.key for c in self.conclusions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate conclusion keys in {keys}")

    def conclusion(self, key: str) -> Conclusion:
        for c in self.conclusions:
            if c.key == key:
                return c
        raise KeyError(f"no conclusion {key!r}; have {', '.join(c.key for c in self.conclusions)}")

    def replace(self, key: str, **changes) -> "Statement":
        """A copy with conclusion ``key`` changed (e.g. ``claimed=...``, ``text=...``)."""
        self.conclusion(key)  # raises on an unknown key
        new = tuple(dataclasses.replace(c, **changes) if c.key == key else c
                    for c in self.conclusions)
        return dataclasses.replace(self, conclusions=new)

    def with_hypothesis(self, name: str, text: str) -> "Statement":
        """A copy with hypothesis ``name`` set to ``text`` (a twin changing a constant)."""
        hyp = dict(self.hypotheses)
        hyp[name] = text
        return dataclasses.replace(self, hypotheses=hyp)

    def with_reading(self, name: str, text: str) -> "Statement":
        rd = dict(self.reading)
        rd[name] = text
        return dataclasses.replace(self, reading=rd)


@dataclass(frozen=True)
class Twin:
    """A false variant of a statement: ``change`` says in one line what was changed and why the
    mathematics makes it false."""

    name: str
    change: str
    statement: Statement


@dataclass
class Decision:
    """The decision of one conclusion: holds True/False, or None when the evidence cannot say."""

    key: str
    holds: bool | None
    observed: str
    basis: str

    def __post_init__(self) -> None:
        if self.holds is not None and not isinstance(self.holds, bool):
            # numpy bools and the like: keep the record JSON-clean
            self.holds = bool(self.holds)


def compare(observed: float, error: float, claimed: float, relation: str) -> bool | None:
    """Decide "observed RELATION claimed" for a number known to +- ``error`` (>= 0).

    "==" and "~": True when |observed - claimed| <= error, False otherwise (the error is the
    allowance).  "<=": True when observed + error <= claimed, False when observed - error >
    claimed, else None.  ">=": mirrored.
    """
    if error < 0:
        raise ValueError("error must be >= 0")
    if relation in ("==", "~"):
        return abs(observed - claimed) <= error
    if relation == "<=":
        if observed + error <= claimed:
            return True
        return False if observed - error > claimed else None
    if relation == ">=":
        if observed - error >= claimed:
            return True
        return False if observed + error < claimed else None
    raise ValueError(f"unknown relation {relation!r}")


def decision(statement: Statement, key: str, observed: float, error: float, basis: str, *,
             fmt: str = "{:.6g}", unit: str = "") -> Decision:
    """A Decision for a numeric conclusion: compare ``observed +- error`` with the statement's
    claimed value under the conclusion's relation."""
    c = statement.conclusion(key)
    holds = compare(float(observed), float(error), float(c.claimed), c.relation)
    obs = f"{fmt.format(observed)} +- {error:.2g}{unit}"
    return Decision(key, holds, obs, basis)


def combine(decisions: Iterable[Decision]) -> tuple[str, dict | None, str]:
    """(verdict, witness, reason): any conclusion False -> REFUTED, with a witness naming the
    failing conclusion(s) and their observed numbers; all True -> CONFIRMED; otherwise
    INCONCLUSIVE with the undecided conclusions as the reason.  No decisions -> INCONCLUSIVE."""
    decisions = list(decisions)
    if not decisions:
        return INCONCLUSIVE, None, "no conclusion was decided"
    failed = [d for d in decisions if d.holds is False]
    if failed:
        witness = {"failing conclusions": ", ".join(d.key for d in failed)}
        for d in failed:
            witness[d.key] = f"{d.observed} ({d.basis})"
        return REFUTED, witness, ""
    undecided = [d for d in decisions if d.holds is None]
    if undecided:
        return INCONCLUSIVE, None, "undecided: " + "; ".join(
            f"{d.key} ({d.observed}; {d.basis})" for d in undecided)
    return CONFIRMED, None, ""


def conclusions_table(statement: Statement, decisions: Iterable[Decision]) -> list[dict]:
    """The record's ``conclusions`` field: one dict per conclusion of ``statement``, with its
    decision (a conclusion without a decision is recorded as undecided)."""
    by_key = {d.key: d for d in decisions}
    out = []
    for c in statement.conclusions:
        d = by_key.get(c.key)
        out.append({"key": c.key, "text": c.text, "claimed": _plain(c.claimed),
                    "relation": c.relation,
                    "observed": d.observed if d else "",
                    "holds": d.holds if d else None,
                    "basis": d.basis if d else "not decided by this check"})
    return out


def _plain(x):
    """A JSON-friendly form of a claimed value (numbers and strings stay, dicts recurse, keys in
    sorted order: results.json is written with sorted keys, so a fresh record and one read back
    from disk must render the same)."""
    if isinstance(x, dict):
        return {str(k): _plain(x[k]) for k in sorted(x, key=str)}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    return str(x)


def judge(decide, statement: Statement, obs) -> tuple[str, dict | None, str, list[Decision]]:
    """Decide ``statement`` on the evidence ``obs`` with the claim's ``decide``; returns
    (verdict, witness, reason, decisions)."""
    decisions = list(decide(statement, obs))
    verdict, witness, reason = combine(decisions)
    return verdict, witness, reason, decisions


def twins_table(decide, twins: Iterable[Twin], obs) -> list[dict]:
    """The record's ``twins`` field: each twin decided on the same evidence ``obs``:
    [{name, change, verdict, basis}], the basis naming the deciding conclusion(s)."""
    out = []
    for t in twins:
        verdict, witness, reason, decisions = judge(decide, t.statement, obs)
        if verdict == REFUTED:
            bad = [d for d in decisions if d.holds is False]
            basis = "; ".join(f"{d.key}: observed {d.observed} ({d.basis})" for d in bad)
        elif verdict == INCONCLUSIVE:
            basis = reason
        else:
            basis = "every conclusion held: " + "; ".join(f"{d.key}: {d.observed}" for d in decisions)
        out.append({"name": t.name, "change": t.change, "verdict": verdict, "basis": basis})
    return out

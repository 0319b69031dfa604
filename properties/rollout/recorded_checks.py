"""The properties of a recorded rollout, checked in one streaming pass over its chunks.

Mirrors TorchLean's ``Boundary.Core.checkTransitionFin`` (each field of each transition, through
the one contract judge :mod:`rollcheck.impl.contract_judge`) and adds what a dataset must also
satisfy to be a rollout at all: the chain ``next_obs[t] == obs[t+1]`` inside an episode, episodes
that end with a ``terminated`` or ``truncated`` step, flags that are exactly booleans (exactly
0/1 where a format stores numbers), observations and actions inside their declared spaces, and
(Minari) bookkeeping that agrees with the arrays.

Each property is a :class:`~rollcheck.properties.core.property.RecordsProperty` whose ``check`` is
called once per chunk as ``check(run, chunk)``; :class:`StreamRun` holds what crosses chunk
boundaries (the last row, the episode counters). Invariants enforced:

- **exact counts, capped lists.** ``run.count[pid]`` is the exact number of bad transitions of
  each property; at most ``cap`` findings are kept (worded by the spec, naming episode and step),
  so an all-bad file gives a small report;
- **no placeholders.** Nothing is ever allocated from a user-supplied shape: a column the judge
  refuses wholesale (a dtype or row shape the contract rejects) is detected by judging one row of
  the column's *own* dtype and row shape, and reported once for the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from rollcheck.impl.contract_judge import (action_space_all_ok, action_space_bad_mask, done_flags_all_ok,
                                           done_flags_bad_mask, observation_all_ok, observation_bad_mask,
                                           reward_all_ok, reward_bad_mask)
from rollcheck.spec.box import Box
from rollcheck.spec.contract import Contract, transition_violations
from rollcheck.spec.errors import Violation
from rollcheck.spec.shape import Shape

from rollcheck.properties.core.property import PropertySet, RecordsProperty
from rollcheck.properties.core.report import Finding
from rollcheck.properties.rollout.readers.chunk import Chunk, RecordedData
from rollcheck.properties.rollout.recorded_spaces import ObservationBox

__all__ = ["DEFAULT_CAP", "RECORDED_PROPERTIES", "StreamRun", "check_stream"]

DEFAULT_CAP = 100

# spec field names (``transition_violations`` and ``parse_transition_json``) per contract property
_FIELDS = {
    "recorded.transition_schema": ("transition",),
    "recorded.action_in_range": ("action", "actions"),  # Fin n and Box alike
    "recorded.done_flags": ("terminated", "truncated"),
    "recorded.reward_contract": ("reward", "rewards"),
    "recorded.observation_contract": ("obs", "observation"),
    "recorded.next_observation_contract": ("next_obs", "next_observation"),
}
_KNOWN = {f for fields in _FIELDS.values() for f in fields}


def _property_of(v: Violation) -> str:
    for pid, fields in _FIELDS.items():
        if v.field in fields:
            return pid
    return "recorded.transition_schema"


@dataclass
class StreamRun:
    """What one pass over a recording accumulates (see the module docstring)."""

    data: RecordedData
    contract: Contract
    shape: Shape
    actions: "int | Box"
    obs_space: "ObservationBox | None" = None
    cap: int = DEFAULT_CAP
    replayed: Any = None  # a replay_worker.ReplayResult: the rows where an episode stopped reproducing
    count: dict = field(default_factory=dict)
    findings: dict = field(default_factory=dict)
    bad_rows: set = field(default_factory=set)
    bad_rows_count: int = 0
    episodes_ended: int = 0
    # carried across chunks (flat formats): the last row and the episode counters
    last_next_obs: Any = None
    last_done: bool = True
    last_bad: bool = False  # the previous chunk's last row was already counted bad
    last_index: int = -1
    episode: int = 0
    step: int = 0
    # per chunk
    te: Any = None
    tr: Any = None
    done: Any = None
    flags_exact: bool = True
    _ep: Any = None
    _st: Any = None
    _chunk: Any = None

    def __post_init__(self) -> None:
        for pid in RECORDED_PROPERTIES.ids:
            self.count.setdefault(pid, 0)
            self.findings.setdefault(pid, [])

    # -- where a row is ----------------------------------------------------------------------
    def where(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(episode, step)`` of chunk rows ``rows`` (computed for the chunk on first use)."""
        if self._ep is None:
            self._locate(self._chunk)
        return self._ep[rows], self._st[rows]

    def _locate(self, chunk: Chunk) -> None:
        if chunk.episode is not None:
            self._ep, self._st = chunk.episode, chunk.step
            return
        done = self.done
        n = len(chunk)
        ends_before = np.cumsum(done) - done
        self._ep = self.episode + ends_before
        starts = np.flatnonzero(done[:-1]) + 1
        pos = np.arange(n)
        k = np.searchsorted(starts, pos, side="right")
        base = np.where(k > 0, starts[np.maximum(k - 1, 0)] if starts.size else 0, -self.step) if n else pos
        self._st = pos - base

    # -- recording ---------------------------------------------------------------------------
    def add(self, pid: str, n_bad: int, make: "Any") -> None:
        """Count ``n_bad`` bad transitions of ``pid``; ``make(room)`` yields up to ``room`` findings."""
        self.count[pid] += n_bad
        room = self.cap - len(self.findings[pid])
        if n_bad and room > 0:
            self.findings[pid].extend(list(make(room))[:room])

    def mark_bad(self, index: "np.ndarray | list[int]") -> None:
        """Rows known bad (the count is kept by :func:`check_stream` from the union of masks)."""
        if len(self.bad_rows) < 1000:
            self.bad_rows.update(np.asarray(index)[:1000].tolist())

    def finding(self, index: int, episode: "int | None", step: "int | None", message: str, v: "Violation | None" = None,
                **context: Any) -> Finding:
        where = f"episode {episode}, step {step}: " if episode is not None else ""
        ctx = {"transition": index, "episode": episode, "step_in_episode": step, **context}
        if v is not None:
            ctx.update(field=v.field, rule=v.rule, spec=str(v))
        return Finding(message=where + message, step=index, expected=v.rule if v is not None else None,
                       actual=v.value if v is not None else None, context=ctx)

    # -- the chunk's flags -------------------------------------------------------------------
    def begin(self, chunk: Chunk) -> None:
        te, tr = chunk.terminated, chunk.truncated
        self.flags_exact = True
        if self.data.flags_numeric:  # judged exactly 0/1 by check_flags_exact; the judge sees booleans
            (te, te_exact), (tr, tr_exact) = _numeric_flags(te), _numeric_flags(tr)
            self.flags_exact = te_exact and tr_exact
        self.te, self.tr = te, tr
        self.done = _as_flags(te) | _as_flags(tr)
        self._chunk, self._ep, self._st = chunk, None, None

    def end(self, chunk: Chunk) -> None:
        if not len(chunk):
            return
        ends = np.flatnonzero(self.done)
        self.episodes_ended += len(ends)
        if chunk.next_obs is not None:
            self.last_next_obs = chunk.next_obs[-1].copy()  # a reader may reuse the chunk's buffers
        self.last_done = bool(self.done[-1])
        self.last_index = int(chunk.index[-1])
        if chunk.episode is None:
            self.episode += len(ends)
            self.step = self.step + len(chunk) if not len(ends) else len(chunk) - 1 - int(ends[-1])


def _numeric_flags(col: np.ndarray) -> "tuple[np.ndarray, bool]":
    """``(flags as booleans, every entry is exactly 0 or 1)`` of a flag column, in one comparison:
    the entries equal to 1 are exactly the non-zero ones (NaN is non-zero and not 1) iff each is 0 or 1."""
    if col.dtype == np.bool_:
        return col, True
    with np.errstate(invalid="ignore"):
        ones = np.equal(col, 1)
    if np.count_nonzero(ones) == np.count_nonzero(col):
        return ones, True
    return _as_flags(col), False


def _as_flags(col: np.ndarray) -> np.ndarray:
    """Flags as booleans: a bool column as it is, a numeric one as ``!= 0`` (judged 0/1 elsewhere)."""
    if col.dtype == np.bool_:
        return col
    with np.errstate(invalid="ignore"):
        return np.asarray(col != 0)


# ---------------------------------------------------------------------------------------------
# The contract, through the judge
# ---------------------------------------------------------------------------------------------

def _neutral_row(contract: Contract, pid: str, col: np.ndarray) -> np.ndarray:
    """One row of ``col``'s own dtype and row shape whose value the contract accepts."""
    if pid in ("recorded.observation_contract", "recorded.next_observation_contract"):
        fill = contract.obs_range[0] if contract.obs_range else 0
    elif pid == "recorded.reward_contract":
        fill = contract.reward_range[0] if contract.reward_range else 0
    else:
        fill = 0
    with np.errstate(all="ignore"):
        return np.full((1, *col.shape[1:]), fill).astype(col.dtype)


def _contract_masks(run: StreamRun, chunk: Chunk) -> "Iterator[tuple[str, np.ndarray, np.ndarray]]":
    """``(pid, mask, column)`` of the judge's per-field verdicts on this chunk, for the fields that
    are not clean as a whole (the judge's ``*_all_ok`` answers that in a few reductions first)."""
    c = run.contract
    if not observation_all_ok(c, chunk.obs, run.shape):
        yield "recorded.observation_contract", observation_bad_mask(c, chunk.obs, run.shape), chunk.obs
    if not reward_all_ok(c, chunk.rewards):
        yield "recorded.reward_contract", reward_bad_mask(c, chunk.rewards), chunk.rewards
    if chunk.next_obs is not None and not observation_all_ok(c, chunk.next_obs, run.shape):
        yield "recorded.next_observation_contract", observation_bad_mask(c, chunk.next_obs, run.shape), chunk.next_obs
    if not done_flags_all_ok(c, run.te, run.tr):
        yield "recorded.done_flags", done_flags_bad_mask(c, run.te, run.tr), run.te
    if not action_space_all_ok(run.actions, chunk.actions):
        yield "recorded.action_in_range", action_space_bad_mask(run.actions, chunk.actions), chunk.actions


def _refused_column(run: StreamRun, pid: str, col: np.ndarray) -> bool:
    probe = _neutral_row(run.contract, pid, col)
    c = run.contract
    if pid in ("recorded.observation_contract", "recorded.next_observation_contract"):
        return bool(observation_bad_mask(c, probe, run.shape)[0])
    if pid == "recorded.reward_contract":
        return bool(reward_bad_mask(c, probe)[0])
    if pid == "recorded.done_flags":
        return bool(done_flags_bad_mask(c, probe, probe)[0])
    if isinstance(run.actions, Box):  # a value inside the Box, of the column's own dtype and row shape
        lo, hi = np.asarray(run.actions.lows()), np.asarray(run.actions.highs())
        inside = np.where(np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2,
                          np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0)))
        if probe.shape[1:] == run.actions.shape.dims:
            with np.errstate(all="ignore"):
                probe = inside.reshape(probe.shape).astype(probe.dtype)
    return bool(action_space_bad_mask(run.actions, probe)[0])


def _word(run: StreamRun, chunk: Chunk, i: int) -> list[Violation]:
    """The spec's violations of chunk row ``i`` (JSON: the spec's parser on the file's row)."""
    index = int(chunk.index[i])
    if run.data.word_row is not None:
        return run.data.word_row(index)
    nxt = chunk.next_obs[i] if chunk.next_obs is not None else chunk.obs[i]
    return [v.at(index) for v in transition_violations(
        run.contract, chunk.obs[i], nxt, chunk.actions[i], chunk.rewards[i], run.te[i], run.tr[i],
        obs_shape=run.shape, action_space=run.actions)]


def check_contract(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """Every field of every row through the one contract judge; the spec words the kept findings."""
    any_bad = None
    for pid, mask, col in _contract_masks(run, chunk):
        if any_bad is None:
            any_bad = np.zeros(len(chunk), dtype=bool)
        n_bad = int(np.count_nonzero(mask))
        if not n_bad:
            continue
        if n_bad == len(chunk) and _refused_column(run, pid, col):
            if run.count[pid] == 0:  # the whole column, once
                first = [v for v in _word(run, chunk, 0) if _property_of(v) == pid]
                v = first[0] if first else None
                name = run.data.names.get(_ROLE[pid], _ROLE[pid])
                what = f"dtype {col.dtype}, row shape {list(col.shape[1:])}"
                msg = (f"every one of the {run.data.n} transitions: {v.message if v else 'refused'} "
                       f"(column `{name}` has {what})")
                run.findings[pid].append(Finding(message=msg, step=None, expected=v.rule if v else None, actual=what,
                                                 context={"field": name, "rule": v.rule if v else None,
                                                          "column": True}))
            run.count[pid] += n_bad
            any_bad |= mask
            continue
        any_bad |= mask
        rows = np.flatnonzero(mask)

        def make(room: int, rows=rows, pid=pid):
            for i in rows[:room].tolist():
                ep, st = run.where(np.array([i]))
                for v in _word(run, chunk, i):
                    if _property_of(v) == pid:
                        yield run.finding(v.index, int(ep[0]), int(st[0]), str(v), v)
        run.add(pid, n_bad, make)
    return any_bad


_ROLE = {"recorded.observation_contract": "obs", "recorded.next_observation_contract": "next_obs",
         "recorded.reward_contract": "rewards", "recorded.done_flags": "terminated",
         "recorded.action_in_range": "actions"}


def check_flags_exact(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """Where the format stores flags as numbers (D4RL), each is exactly 0 or 1."""
    if not run.data.flags_numeric or run.flags_exact:  # StreamRun.begin found every entry exactly 0 or 1
        return None
    any_bad = np.zeros(len(chunk), dtype=bool)
    for role, col in (("terminated", chunk.terminated), ("truncated", chunk.truncated)):
        if col.dtype == np.bool_:
            continue
        with np.errstate(invalid="ignore"):
            bad = ~((col == 0) | (col == 1))
        n_bad = int(bad.sum())
        if not n_bad:
            continue
        rows = np.flatnonzero(bad)
        name = run.data.names.get(role, role)

        def make(room: int, rows=rows, col=col, name=name):
            for i in rows[:room].tolist():
                ep, st = run.where(np.array([i]))
                yield run.finding(int(chunk.index[i]), int(ep[0]), int(st[0]),
                                  f"transition {int(chunk.index[i])}, field \"{name}\": {col[i].item()!r} is not exactly 0 or 1 "
                                  "(a flag stored as a number must be 0 or 1)", field=name)
        run.add("recorded.done_flags", n_bad, make)
        any_bad |= bad
    return any_bad


def check_observation_space(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """Observations (and next observations) inside the declared observation space's bounds."""
    if run.obs_space is None:
        return None
    any_bad = None
    for role, col in (("obs", chunk.obs), ("next_obs", chunk.next_obs)):
        if col is None or run.obs_space.all_ok(col):
            continue
        if any_bad is None:
            any_bad = np.zeros(len(chunk), dtype=bool)
        bad = run.obs_space.bad_mask(col)
        n_bad = int(bad.sum())
        if not n_bad:
            continue
        rows = np.flatnonzero(bad)

        def make(room: int, rows=rows, col=col, role=role):
            for i in rows[:room].tolist():
                ep, st = run.where(np.array([i]))
                index = int(chunk.index[i])
                yield run.finding(index, int(ep[0]), int(st[0]),
                                  f"transition {index}, field \"{role}\": {run.obs_space.describe(col[i])}", field=role)
        run.add("recorded.observation_in_space", n_bad, make)
        any_bad |= bad
    return any_bad


# ---------------------------------------------------------------------------------------------
# Chain and episodes
# ---------------------------------------------------------------------------------------------

def _word_dtype(width: int) -> "np.dtype | None":
    for size in (8, 4, 2, 1):
        if width % size == 0:
            return np.dtype(f"u{size}")
    return None  # pragma: no cover - every width is a multiple of 1


def _differing_rows(a: np.ndarray, b: np.ndarray, ignore: "np.ndarray | None" = None) -> np.ndarray:
    """Sorted row numbers ``i`` (not set in the boolean ``ignore``) where ``a[i]`` and ``b[i]`` differ
    in value (NaN equals NaN, -0.0 equals 0.0: the same recorded value).

    Fast path: rows of one dtype are compared as machine words over the whole block (bitwise
    equal rows are equal); the rows that differ bitwise and are not ignored (in a clean file:
    none, the episode starts being ignored) are compared by value.
    """
    n = a.shape[0]
    if a.shape[1:] != b.shape[1:]:
        rows = np.arange(n)
        return rows if ignore is None else rows[~ignore]
    width = a.dtype.itemsize * int(np.prod(a.shape[1:], dtype=np.int64))
    if a.dtype == b.dtype and width and a.flags.c_contiguous and b.flags.c_contiguous:
        word = _word_dtype(width)
        per_row = width // word.itemsize
        ne = np.not_equal(a.reshape(-1).view(word), b.reshape(-1).view(word))
        if per_row in (1, 2, 4, 8):  # a row's word verdicts read as one integer: non-zero iff some word differs
            rows = np.flatnonzero(ne.view(f"u{per_row}"))
        else:  # word numbers to row numbers, each row once (flatnonzero is sorted)
            rows = np.flatnonzero(ne) // per_row
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if rows.size else rows
        if ignore is not None and rows.size:
            rows = rows[~ignore[rows]]
        if rows.size:
            rows = rows[_rows_differ_by_value(a[rows], b[rows])]
        return rows
    rows = np.flatnonzero(_rows_differ_by_value(a, b) if ignore is None else _rows_differ_by_value(a, b) & ~ignore)
    return rows


def _rows_differ_by_value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    with np.errstate(invalid="ignore"):
        ne = (a != b).reshape(n, -1)
    rows = ne.any(axis=1)
    if rows.any() and (a.dtype.kind == "f" or b.dtype.kind == "f"):
        sub = np.flatnonzero(rows)
        both_nan = (np.isnan(a[sub].astype(np.float64)) & np.isnan(b[sub].astype(np.float64))).reshape(len(sub), -1)
        rows[sub] = (ne[sub] & ~both_nan).any(axis=1)
    return rows


def check_chain(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """Within an episode, ``next_obs[t] == obs[t+1]`` (rows that follow each other in the file)."""
    if chunk.next_obs is None or not len(chunk) or not run.data.next_obs_stored:
        return None
    n = len(chunk)
    # pair (previous row, this row) for every row whose predecessor is the row just before it
    head_bad = np.zeros(1, dtype=bool)
    if run.last_next_obs is not None and int(chunk.index[0]) == run.last_index + 1 and not run.last_done:
        head_bad[0] = _differing_rows(run.last_next_obs[None], chunk.obs[:1]).size > 0
    broken = np.zeros(0, dtype=np.intp)  # rows t whose next_obs is not obs[t+1] inside an episode
    if n > 1:
        differ = _differing_rows(chunk.next_obs[:-1], chunk.obs[1:], ignore=run.done[:-1])  # an episode ends
        if int(chunk.index[-1]) - int(chunk.index[0]) != n - 1:  # rows not consecutive in the file
            differ = differ[chunk.index[differ + 1] - chunk.index[differ] == 1]
        broken = differ
    n_bad = int(head_bad[0]) + broken.size
    if not n_bad:
        return None

    def make(room: int):
        if head_bad[0]:
            yield run.finding(run.last_index, None, None,
                              f"transition {run.last_index}: next_obs differs from obs of transition {run.last_index + 1}"
                              " although neither terminated nor truncated ends the episode there (a broken chain, "
                              "or a missing episode end)")
        for t in broken[:room].tolist():
            ep, st = run.where(np.array([t]))
            index = int(chunk.index[t])
            diff = _first_difference(chunk.next_obs[t], chunk.obs[t + 1])
            yield run.finding(index, int(ep[0]), int(st[0]),
                              f"transition {index}: next_obs differs from obs of transition {index + 1}{diff} although "
                              "neither terminated nor truncated ends the episode there (a broken chain, or a missing "
                              "episode end)")
    run.add("recorded.next_obs_chain", n_bad, make)
    if head_bad[0] and not run.last_bad:  # the previous chunk's last row, counted once
        run.bad_rows_count += 1
        run.mark_bad([run.last_index])
    bad = np.zeros(n, dtype=bool)
    bad[broken] = True
    return bad if broken.size else None


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    fa, fb = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    if fa.shape != fb.shape:
        return f" (shapes {list(np.shape(a))} and {list(np.shape(b))})"
    k = np.flatnonzero((fa != fb) & ~(np.isnan(fa) & np.isnan(fb)) if fa.dtype.kind == "f" else fa != fb)
    if not k.size:
        return ""
    j = int(k[0])
    return f" (entry {j}: {fa[j].item()!r} vs {fb[j].item()!r})"


def check_episode_ends(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """Explicit episodes (Minari): the last step, and only it, is terminated or truncated."""
    if chunk.episode is None or not len(chunk) or run.data.format == "json":
        return None
    last = np.ones(len(chunk), dtype=bool)  # readers of explicit episodes yield whole episodes per chunk
    last[:-1] = chunk.episode[1:] != chunk.episode[:-1]
    early = run.done & ~last
    missing = ~run.done & last
    n_bad = int(early.sum()) + int(missing.sum())
    if not n_bad:
        return None
    rows = np.flatnonzero(early | missing)

    def make(room: int):
        for i in rows[:room].tolist():
            index = int(chunk.index[i])
            ep, st = int(chunk.episode[i]), int(chunk.step[i])
            if missing[i]:
                msg = (f"transition {index}: the episode's last step is neither terminated nor truncated "
                       "(a missing episode end)")
            else:
                msg = f"transition {index}: terminated/truncated before the episode's last step"
            yield run.finding(index, ep, st, msg)
    run.add("recorded.episode_ends", n_bad, make)
    return early | missing


def check_replay(run: StreamRun, chunk: Chunk) -> "np.ndarray | None":
    """The chunk's rows where the (already run, supervised) replay found an episode's first divergence."""
    r = run.replayed
    if r is None or not r.rows.size or not len(chunk):
        return None
    lo, hi = np.searchsorted(r.rows, [int(chunk.index[0]), int(chunk.index[-1]) + 1])
    if lo == hi:
        return None
    hits = r.rows[lo:hi]
    pos = np.minimum(np.searchsorted(chunk.index, hits), len(chunk) - 1)
    inside = chunk.index[pos] == hits
    hits, pos = hits[inside], pos[inside]
    if not hits.size:
        return None

    def make(room: int):
        for index in hits[:room].tolist():
            if index in r.words:
                e, s, what = r.words[index]
                stopped = r.stopped_at is not None and index == r.stopped_at[0]
                yield run.finding(index, e, s, f"transition {index}: " + (
                    what if stopped else f"replaying the recorded actions diverges here: {what}"))
    run.add("recorded.replay_reproduces", int(hits.size), make)
    bad = np.zeros(len(chunk), dtype=bool)
    bad[pos] = True
    return bad


def _metadata(run: StreamRun, chunk: Chunk) -> None:
    """Minari's bookkeeping is judged by the reader as it opens the dataset (``metadata_findings``,
    reported by :func:`check_stream`); nothing to do per chunk."""
    return None


RECORDED_PROPERTIES = PropertySet([
    RecordsProperty("recorded.transition_schema", "Boundary.Json.parseTransitionJson",
             "every transition is a JSON object naming each of the six fields once", check_contract),
    RecordsProperty("recorded.action_in_range", "Boundary.Core.checkAction",
             "every action lies in the action space (an integer in [0, n_actions), or inside the Box)",
             check_contract),
    RecordsProperty("recorded.done_flags", "Boundary.Core.checkDoneFlags",
             "terminated and truncated are booleans, or exactly 0/1 where the format stores numbers "
             "(exclusive when the contract says so)", check_flags_exact),
    RecordsProperty("recorded.reward_contract", "Boundary.Core.checkReward",
             "every reward is a real number satisfying the contract", check_contract),
    RecordsProperty("recorded.observation_contract", "Boundary.Core.checkObservation",
             "every observation has obs_shape and satisfies the contract", check_contract),
    RecordsProperty("recorded.next_observation_contract", "Boundary.Core.checkObservation",
             "every next observation has obs_shape and satisfies the contract", check_contract),
    RecordsProperty("recorded.observation_in_space", "Gymnasium Space.contains",
             "every observation lies inside the declared observation space", check_observation_space),
    RecordsProperty("recorded.next_obs_chain", "Transition.next_obs (one episode's trajectory)",
             "within an episode, next_obs[t] == obs[t+1]", check_chain),
    RecordsProperty("recorded.episode_ends", "Boundary.Core.checkDoneFlags (episode boundaries)",
             "every episode ends with exactly one terminated or truncated step, its last "
             "(or is marked unfinished at the end of the file)", check_episode_ends),
    RecordsProperty("recorded.episode_metadata", "Minari EpisodeData",
             "per-episode ids, lengths and step counts agree with the arrays", _metadata),
    RecordsProperty("recorded.replay_reproduces", "Gymnasium Env.step (the recorded transitions' source)",
             "re-simulating each episode with its recorded actions reproduces its observations, rewards "
             "and flags", check_replay),
])


def _schema_rows(run: StreamRun, rows: "Iterable[tuple]") -> None:
    """Rows judged by the spec itself (never array rows): each violation under its property.
    A row is ``(index, violations)`` or ``(index, violations, episode, step)``."""
    for index, violations, *where in rows:
        episode, step = where if where else (None, None)
        by: dict[str, list[Violation]] = {}
        for v in violations:
            by.setdefault(_property_of(v), []).append(v)
        for pid, vs in by.items():
            run.add(pid, 1, lambda room, vs=vs: (run.finding(v.index, episode, step, str(v), v) for v in vs))
        if violations:
            run.bad_rows_count += 1
            run.mark_bad([index])


def check_stream(run: StreamRun) -> int:
    """Run every per-chunk check over ``run.data``; the number of transitions seen."""
    seen = 0
    for chunk in run.data.chunks():
        run.begin(chunk)
        bad = check_contract(run, chunk)
        for prop in RECORDED_PROPERTIES:
            if prop.check is not check_contract:
                mask = prop.check(run, chunk)
                if mask is not None:
                    bad = mask if bad is None else bad | mask
        n_bad = int(np.count_nonzero(bad)) if bad is not None else 0
        if n_bad:
            run.bad_rows_count += n_bad
            run.mark_bad(chunk.index[bad])
        run.last_bad = bool(n_bad and bad[-1])
        run.end(chunk)
        seen += len(chunk)
        _schema_rows(run, chunk.schema)
    _schema_rows(run, run.data.schema_violations())
    for pid, items in run.data.metadata_findings.items():
        run.add(pid, len(items), lambda room, items=items: (
            run.finding(step, episode, None, message) if step is not None else
            Finding(message=(f"episode {episode}: " if episode is not None else "") + message,
                    context={"episode": episode}) for step, episode, message in items))
    return seen

"""What every reader hands the checks: a recorded rollout as columns, streamed in chunks.

Not a TorchLean definition; the columns are the fields of TorchLean's ``Transition``
(``obs, action, reward, terminated, truncated, next_obs``) stacked row by row, as
``rollcheck.impl.contract_judge`` judges them. Invariants enforced by :class:`Chunk`: every column
has the same leading length as ``index`` (the rows' positions in the file, increasing), and
``episode``/``step`` (when the format stores episodes explicitly) have that length too.

The three array namings a reader accepts are listed once here (:data:`NAMINGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from rollcheck.properties.rollout.readers.errors import RolloutFileError

__all__ = ["Chunk", "DEFAULT_CHUNK_ROWS", "NAMINGS", "ROLES", "RecordedData", "ReplayInfo", "RowNumbers",
           "choose_naming"]

ROLES = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")
NAMINGS: dict[str, tuple[str, ...]] = {
    # rollcheck's own plural names (today's .npz)
    "rollcheck": ("obs", "actions", "rewards", "terminated", "truncated", "next_obs"),
    # the interchange JSON's field names (Boundary.Json), as an .npz
    "interchange": ("obs", "action", "reward", "terminated", "truncated", "next_obs"),
    # D4RL's names; flags may be stored as numbers (exactly 0/1), next_observations is optional
    "d4rl": ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations"),
}
OPTIONAL = {"d4rl": {"next_obs"}}
DEFAULT_CHUNK_ROWS = 1 << 16  # CartPole rows: ~3 MB of columns per chunk, inside a 4 MB L2 cache


class RowNumbers:
    """The row numbers ``start .. start + k - 1`` of consecutive chunks, written into one reused buffer."""

    def __init__(self, capacity: int) -> None:
        self._base = np.arange(capacity, dtype=np.int64)
        self._out = np.empty(capacity, dtype=np.int64)

    def at(self, start: int, k: int) -> np.ndarray:
        return np.add(self._base[:k], start, out=self._out[:k])


def choose_naming(names: "set[str] | list[str]", where: str) -> tuple[str, dict[str, str]]:
    """``(naming, {role: array name})`` for the naming whose required arrays ``names`` holds."""
    names = set(names)
    for naming, fields in NAMINGS.items():
        optional = OPTIONAL.get(naming, set())
        if all(name in names for role, name in zip(ROLES, fields) if role not in optional):
            return naming, {role: name for role, name in zip(ROLES, fields) if name in names}
    wanted = "; ".join(f"{k}: {list(v)}" for k, v in NAMINGS.items())
    closest = min(NAMINGS.items(), key=lambda kv: len(set(kv[1]) - names))
    missing = [n for r, n in zip(ROLES, closest[1]) if n not in names and r not in OPTIONAL.get(closest[0], set())]
    raise RolloutFileError(f"{where} holds {sorted(names)}; a rollout needs one of these namings ({wanted}); "
                           f"closest is {closest[0]!r}, missing array(s) {missing}")


@dataclass(frozen=True)
class Chunk:
    """Rows ``index`` of a recorded rollout. ``next_obs`` is ``None`` where the format stores one
    observation sequence per episode (next_obs[t] is obs[t+1] by construction, or not stored);
    ``episode``/``step`` are given where the format stores episodes explicitly (Minari) or counts
    them itself (JSON); ``schema`` holds the spec's verdicts on the chunk's rows that are not array
    rows (JSON rows of the wrong types), judged in the same pass."""

    index: np.ndarray
    obs: np.ndarray
    next_obs: "np.ndarray | None"
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode: "np.ndarray | None" = None
    step: "np.ndarray | None" = None
    schema: tuple = ()  # (index, violations, episode, step) of the rows that never became array rows (JSON)

    def __post_init__(self) -> None:
        n = len(self.index)
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "truncated", "episode", "step"):
            col = getattr(self, name)
            if col is not None and (np.ndim(col) == 0 or len(col) != n):
                raise RolloutFileError(f"column {name!r} has {np.shape(col)[:1]} rows in a chunk of {n}")

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class ReplayInfo:
    """What a format says about re-simulating it: the env (id or spec) and each episode's reset seed."""

    env: Any = None
    seeds: "tuple[int | None, ...]" = ()


@dataclass
class RecordedData:
    """A recorded rollout as a reader presents it (see the module docstring).

    ``chunks()`` may be called once per pass; a chunk's arrays are valid until the next chunk is
    requested (readers may reuse their buffers: a consumer copies what it keeps); ``schema_violations()`` yields ``(index, violations)``
    for rows that never became array rows (JSON rows of the wrong types) and ``word_row(index)``
    words a row's violations in the format's own terms (JSON: the spec's parser); ``metadata_findings`` maps a
    property id to ``(step, episode, message)`` triples (Minari's bookkeeping); ``flags_numeric``
    says the format stores flags as numbers (judged exactly 0/1); ``names`` maps roles to the
    names in the file.
    """

    format: str
    naming: str
    n: int
    chunks: Callable[[], Iterator[Chunk]]
    names: dict[str, str] = field(default_factory=dict)
    flags_numeric: bool = False
    explicit_episodes: bool = False
    next_obs_stored: bool = True
    obs_row_shape: "tuple[int, ...] | None" = None
    action_row_shape: "tuple[int, ...] | None" = None
    schema_violations: "Callable[[], Iterator[tuple[int, list]]]" = lambda: iter(())
    metadata_findings: dict = field(default_factory=dict)
    observation_space: Any = None
    action_space: Any = None
    replay: "ReplayInfo | None" = None
    meta: dict = field(default_factory=dict)
    word_row: "Callable[[int], list] | None" = None
    close: Callable[[], None] = lambda: None

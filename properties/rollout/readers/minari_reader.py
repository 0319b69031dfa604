"""Reading a Minari dataset (by folder or by local dataset id) as a stream of whole episodes.

Not a TorchLean definition: Farama's Minari stores episodes (``observations`` of length ``T+1``,
``actions, rewards, terminations, truncations`` of length ``T``, ``infos``, a ``seed`` per
episode) behind ``MinariStorage`` (HDF5 or Arrow). Read through the ``minari`` package (the
optional ``datasets`` extra), never downloading (``load_dataset(id, download=False)``).

Rows are the episodes' steps in order; ``obs = observations[:-1]``, ``next_obs = observations[1:]``
(the chain holds by construction). Invariants checked while streaming, as
``recorded.episode_metadata`` findings: each episode's arrays have the lengths its observations
imply, its stored ``total_steps`` and ``id`` agree with them, and the dataset's ``total_steps``
and ``total_episodes`` equal the sums. The dataset's observation and action spaces are the
declared spaces; the env spec and the episodes' seeds are what ``--replay`` uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import minari
import numpy as np

from rollcheck.spec.box import Box
from rollcheck.spec.errors import ArgumentError

from rollcheck.properties.rollout.readers.chunk import DEFAULT_CHUNK_ROWS, Chunk, RecordedData, ReplayInfo
from rollcheck.properties.rollout.readers.errors import RolloutFileError
from rollcheck.properties.rollout.recorded_spaces import spaces_from_gymnasium

__all__ = ["read_minari_dataset", "read_minari_id", "read_minari_path"]


def read_minari_path(path: "str | Path", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RecordedData:
    """A dataset folder (holding ``data/metadata.json``) or its ``data`` folder."""
    path = Path(path)
    data_path = path / "data" if (path / "data" / "metadata.json").is_file() else path
    if not (data_path / "metadata.json").is_file():
        raise RolloutFileError(f"{str(path)!r} is a directory but not a Minari dataset (no metadata.json in it or "
                               "in its data/ folder)")
    try:
        dataset = minari.MinariDataset(data_path)
    except (ValueError, OSError, KeyError, AssertionError) as exc:
        raise RolloutFileError(f"cannot read {str(path)!r} as a Minari dataset: {exc}") from None
    return read_minari_dataset(dataset, str(path), chunk_rows)


def read_minari_id(dataset_id: str, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RecordedData:
    """A dataset in the local Minari store (``MINARI_DATASETS_PATH``); never downloads."""
    try:
        dataset = minari.load_dataset(dataset_id, download=False)
    except FileNotFoundError as exc:
        raise RolloutFileError(f"{dataset_id!r} is neither a file nor a local Minari dataset: {exc}") from None
    except (ValueError, OSError, KeyError, AssertionError) as exc:
        raise RolloutFileError(f"cannot read Minari dataset {dataset_id!r}: {exc}") from None
    return read_minari_dataset(dataset, dataset_id, chunk_rows)


def _len(x: Any) -> int:
    return len(x) if hasattr(x, "__len__") else -1


def read_minari_dataset(dataset: Any, name: str, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RecordedData:
    """The steps of ``dataset`` (a ``minari.MinariDataset``) as chunks of whole episodes."""
    storage = dataset.storage
    try:
        obs_space, actions = spaces_from_gymnasium(dataset.observation_space, dataset.action_space)
    except ArgumentError as exc:
        raise RolloutFileError(f"Minari dataset {name!r}: {exc}") from None
    ids = [int(i) for i in dataset.episode_indices]
    total_steps = int(storage.metadata.get("total_steps", -1))
    total_episodes = int(storage.metadata.get("total_episodes", -1))
    episode_meta = list(storage.get_episode_metadata(ids))
    seeds = tuple(m.get("seed") for m in episode_meta)
    findings: dict[str, list] = {"recorded.episode_metadata": []}
    problems = findings["recorded.episode_metadata"]
    if total_episodes != len(ids):
        problems.append((None, None, f"the dataset's total_episodes is {total_episodes} but it holds {len(ids)} "
                                     "episodes"))
    stored_lengths = [int(m.get("total_steps", -1)) for m in episode_meta]

    def chunks() -> Iterator[Chunk]:
        row = 0
        steps_seen = 0
        batch: list[dict] = []
        pending = 0
        for k, (ep_id, ep) in enumerate(zip(ids, storage.get_episodes(ids))):
            t = _len(ep["actions"])
            lengths = {"observations": _len(ep["observations"]) - 1, "rewards": _len(ep["rewards"]),
                       "terminations": _len(ep["terminations"]), "truncations": _len(ep["truncations"])}
            bad = {key: v for key, v in lengths.items() if v != t}
            if bad or t <= 0:
                problems.append((None, ep_id, f"arrays disagree on the episode's length: {t} actions but "
                                              + ", ".join(f"{key} of length {v + (key == 'observations')}"
                                                          for key, v in (bad or lengths).items())
                                 + " (observations hold one more than the steps)"))
                continue
            if stored_lengths[k] != t:
                problems.append((row, ep_id, f"its stored total_steps is {stored_lengths[k]} but its arrays hold "
                                             f"{t} steps"))
            stored_id = episode_meta[k].get("id", ep_id)
            if int(ep.get("id", ep_id)) != ep_id or int(stored_id) != ep_id:
                problems.append((row, ep_id, f"its stored id is {stored_id}, not {ep_id}"))
            batch.append({"ep": ep_id, "t": t, "row": row, **ep})
            row += t
            steps_seen += t
            pending += t
            if pending >= chunk_rows:
                yield _chunk(batch)
                batch, pending = [], 0
        if batch:
            yield _chunk(batch)
        if total_steps != steps_seen:
            problems.append((None, None, f"the dataset's total_steps is {total_steps} but its episodes hold "
                                         f"{steps_seen} steps"))

    n = sum(max(t, 0) for t in stored_lengths)
    return RecordedData(
        format="minari", naming="minari", n=n, chunks=chunks,
        names={"obs": "observations", "actions": "actions", "rewards": "rewards", "terminated": "terminations",
               "truncated": "truncations", "next_obs": "observations[1:]"},
        explicit_episodes=True, next_obs_stored=False, obs_row_shape=obs_space.shape if obs_space else None,
        action_row_shape=actions.shape.dims if isinstance(actions, Box) else (), metadata_findings=findings,
        observation_space=obs_space, action_space=actions,
        replay=ReplayInfo(env=dataset.env_spec, seeds=seeds),
        meta={"minari": minari.__version__, "dataset": name, "episodes": len(ids), "minari_total_steps": total_steps,
              "env_spec": getattr(dataset.env_spec, "id", None)})


def _chunk(batch: list[dict]) -> Chunk:
    obs = np.concatenate([np.asarray(e["observations"])[:-1] for e in batch])
    nxt = np.concatenate([np.asarray(e["observations"])[1:] for e in batch])
    cat = {key: np.concatenate([np.asarray(e[key]) for e in batch])
           for key in ("actions", "rewards", "terminations", "truncations")}
    episode = np.concatenate([np.full(e["t"], e["ep"]) for e in batch])
    step = np.concatenate([np.arange(e["t"]) for e in batch])
    index = np.concatenate([np.arange(e["row"], e["row"] + e["t"]) for e in batch])
    return Chunk(index, obs, nxt, cat["actions"], cat["rewards"], cat["terminations"], cat["truncations"],
                 episode=episode, step=step)

"""Readers of recorded rollouts: interchange JSON, ``.npz``, D4RL-style HDF5 and Minari datasets.

Each reader turns one format into :class:`~rollcheck.properties.rollout.readers.chunk.RecordedData`
(columns streamed in :class:`~rollcheck.properties.rollout.readers.chunk.Chunk` s); the checks in
:mod:`rollcheck.properties.rollout.recorded_checks` never see a format.
"""

"""Rollouts other code produced: CleanRL-style buffers (``validate_arrays``), Stable-Baselines3
(``validate_sb3``), recorded files (``validate_rollout_file``) and the vector-env recorder."""

"""Comparing models: metrics with paired-bootstrap intervals (metrics.py), batch evaluation on held-out rows
or a file (run.py), and the blind arena with its Bradley–Terry leaderboard (arena.py)."""

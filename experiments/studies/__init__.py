"""Studies that use several runs, or look at one again: compare.py and comparison.py (python run.py compare),
overlay.py, replay.py, gradient_snr.py, kl_directions.py (each python -m experiments.studies.NAME)."""

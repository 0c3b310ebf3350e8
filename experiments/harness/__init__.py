"""One run, from its settings to its last checkpoint: settings.py (each setting defined once), runner.py (new run or
resume, decided before anything is written), folder.py (the output folder and its lock), checkpoint.py,
schedules.py (learning rate against epoch) and training.py (the loop)."""

"""authql's own bench: `python -m bench` (bench/runner.py), the reference apps in bench/apps/,
results under bench/results/. `bench/fuzz.py` is the long fuzz run's entry point."""

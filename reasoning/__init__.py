"""The library: tasks, models, sampling, trainers, reward models and search (README.md maps it).

Importing it has no side effects: no environment variables set, no device arrays built.
Process-level XLA tuning is applied by the entrypoints (experiments/cli.py, tune_xla_cpu).
"""

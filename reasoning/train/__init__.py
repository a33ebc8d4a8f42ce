"""Trainers: pure, jitted `train_step(state, batch) -> (state, metrics)` functions on optax."""

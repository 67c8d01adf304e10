"""One module per step. Each exposes `advance(deps, run, trigger)`: observe real AWS state, act if needed."""

"""Training: the loop and its callbacks, torchrun, the runtime, the run directory."""

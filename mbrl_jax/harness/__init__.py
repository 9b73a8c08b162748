"""The top floor: the host loop (runner), verified checkpoints and the workdir lock,
metrics files, learning-curve figures and the compilation cache."""

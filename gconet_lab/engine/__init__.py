"""Engine: the training loop and what it stands on (checkpoints, several GPUs, precision, schedules,
output folders, interrupts, the Table 3 recipes, the shipped weights)."""

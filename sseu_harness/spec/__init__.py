"""What is measured: the tasks, SNR labels, taxonomy, the case grid and the prompts. Imports nothing of the harness but its errors."""

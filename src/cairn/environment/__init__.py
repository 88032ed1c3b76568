"""Environment records: what a stage ran in (Python, OS, CPU, GPUs, installed distributions,
chosen environment variables), captured cheaply, stored as canonical JSON objects, compared."""

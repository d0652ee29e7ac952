"""`tk bench`: training, inference and cold-start measurements, side by side in one run.

- training.py:   the tutorial's DataLoader loop vs tk's recipe, eager and torch.compile modes
- inference.py:  batch-1 latency and large-batch throughput of every deployment format and runtime
- cold_start.py: `tk infer image.png` as a process vs a plain torch script doing the same job
- targets.py:    the performance targets, judged against what was measured
- report.py:     the printed tables, the JSON file and the generated sections of BENCHMARKS.md
- worker.py:     one training measurement in a fresh process (clean peak memory, cold compile caches)
"""

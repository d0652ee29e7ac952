"""Training: resident data, shuffled slices, one-cycle recipes, torch.compile on CUDA, checkpoints, torchrun.

- recipes.py:     the run's configuration from a model's recipe and the options; schedule, optimizer, loss
- prepare.py:     everything before the first epoch: device, resident data, model, optimizer, compiled step
- loop.py:        `train(...)`: prepare the run, run its epochs, finish (metrics.json, the summary line)
- evaluation.py:  test accuracy or mean absolute error after each epoch
- checkpoint.py:  atomic checkpoint saves, weights_only loads, resuming a run
- distributed.py: torchrun: the process group, each rank's slice of the batch, DDP

`from toolkit.train import train` loads torch; `COMPILE_MODES` does not, so the CLI can list them.
"""

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")  # torch.compile's; the last two matter on CUDA


def __getattr__(name):
    if name == "train":
        from toolkit.train.loop import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

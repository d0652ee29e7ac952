"""The small tables the "deep learning zero to all" labs train on, exactly as the labs give them.

Each table trains and is scored on the same rows: the labs have no test split.
"""

import torch

TABLES = {
    # Lab 2/3: H(x) = Wx + b, so W ~ 2, b ~ 0
    "lab2-linear": {
        "features": ("x",),
        "x": [[1.0], [2.0], [3.0]],
        "y": [[2.0], [4.0], [6.0]],
    },
    # Lab 4-1: three quiz scores -> final score
    "lab4-quiz-scores": {
        "features": ("quiz1", "quiz2", "midterm"),
        "x": [[73.0, 80.0, 75.0], [93.0, 88.0, 93.0], [89.0, 91.0, 90.0], [96.0, 98.0, 100.0], [73.0, 66.0, 70.0]],
        "y": [[152.0], [185.0], [180.0], [196.0], [142.0]],
    },
    # Lab 5: two features -> pass (1) or fail (0)
    "lab5-binary": {
        "features": ("x1", "x2"),
        "x": [[1.0, 2.0], [2.0, 3.0], [3.0, 1.0], [4.0, 3.0], [5.0, 3.0], [6.0, 2.0]],
        "y": [[0.0], [0.0], [0.0], [1.0], [1.0], [1.0]],
    },
    # Lab 6: four features -> one of three classes
    "lab6-softmax": {
        "features": ("x1", "x2", "x3", "x4"),
        "x": [
            [1.0, 2.0, 1.0, 1.0],
            [2.0, 1.0, 3.0, 2.0],
            [3.0, 1.0, 3.0, 4.0],
            [4.0, 1.0, 5.0, 5.0],
            [1.0, 7.0, 5.0, 5.0],
            [1.0, 2.0, 5.0, 6.0],
            [1.0, 6.0, 6.0, 6.0],
            [1.0, 7.0, 7.0, 7.0],
        ],
        "y": [2, 2, 2, 1, 1, 1, 0, 0],
    },
}


def table_tensors(name: str) -> tuple:
    """(x float32 [N, F], y): y float32 [N, 1] for regression and binary labels, int64 [N] for classes."""
    table = TABLES[name]
    x = torch.tensor(table["x"], dtype=torch.float32)
    y = torch.tensor(table["y"])
    return x, (y.float() if y.is_floating_point() else y.long())

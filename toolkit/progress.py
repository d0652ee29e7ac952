"""A minimal progress bar on stderr (no dependency), redrawn in place only on a terminal.

Off a terminal (CI logs, pipes) it prints nothing while running, so logs keep only the summary lines.
"""

import sys
import time


class ProgressBar:
    def __init__(self, total: int, description: str, stream=None, width: int = 30, enabled: bool = True):
        self.total = max(total, 1)
        self.description = description
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.perf_counter()
        self.enabled = enabled  # False: draws and prints nothing (e.g. every rank but the first)
        self.live = enabled and self.stream.isatty()
        self._last_draw = 0.0
        self.postfix = ""  # the last one shown

    def update(self, n: int = 1, postfix: str = "") -> None:
        self.done = min(self.done + n, self.total)
        self.postfix = postfix or self.postfix
        now = time.perf_counter()
        # Redraw at most ~10 times a second: drawing must not cost training time.
        if self.live and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            self._draw(postfix)

    def close(self, summary: str = "") -> None:
        """Replace the bar with a one-line summary (always printed, terminal or not)."""
        if self.live:
            self.stream.write("\r\033[K")
        if summary and self.enabled:
            self.stream.write(f"{self.description} {summary}\n")
        self.stream.flush()

    def _draw(self, postfix: str) -> None:
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{self.description} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s {postfix}\033[K")
        self.stream.flush()

"""Progress on stderr for the long kernel steps, and the final summary table.

One line per finished step with its elapsed time; while a step runs, a spinner on
the same line only when stderr is a terminal (a log file gets no control codes).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Step:
    name: str
    result: str = "running"
    seconds: float = 0.0


@dataclass
class Progress:
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    steps: list[Step] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time a step; the body sets ``step.result`` ("ok" unless it says otherwise)."""
        step = Step(name)
        self.steps.append(step)
        begun = time.monotonic()
        stop = threading.Event()
        spinner = None
        if self.stream.isatty():
            spinner = threading.Thread(target=self._spin, args=(name, begun, stop), daemon=True)
            spinner.start()
        try:
            yield step
        except BaseException:
            step.result = "error"
            raise
        finally:
            stop.set()
            if spinner is not None:
                spinner.join()
                self.stream.write("\r\033[K")
            step.seconds = time.monotonic() - begun
            if step.result == "running":
                step.result = "ok"
            total = time.monotonic() - self.start
            self.stream.write(f"[{total:7.1f}s] {name}: {step.result} ({step.seconds:.1f} s)\n")
            self.stream.flush()

    def _spin(self, name: str, begun: float, stop: threading.Event) -> None:
        frames = "|/-\\"
        i = 0
        while not stop.wait(0.25):
            self.stream.write(f"\r{frames[i % 4]} {name} {time.monotonic() - begun:6.1f}s")
            self.stream.flush()
            i += 1

    def table(self) -> str:
        width = max([len(s.name) for s in self.steps] + [4])
        rwidth = max([len(s.result) for s in self.steps] + [6])
        rows = [f"{'step':<{width}}  {'result':<{rwidth}}  seconds"]
        rows += [f"{s.name:<{width}}  {s.result:<{rwidth}}  {s.seconds:7.1f}" for s in self.steps]
        total = time.monotonic() - self.start
        rows.append(f"{'total':<{width}}  {'':<{rwidth}}  {total:7.1f}")
        return "\n".join(rows) + "\n"

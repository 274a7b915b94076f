"""The system-heap driver harness, registered as "system-heap" (patchbot.model.drivers).

Booting = loading the module (system_heap_create(): every dma_heap_add()), then running
one scenario of the heap's user on every heap the driver registered, then checking that
nothing leaked.  Scenarios are the fixed lifecycles and the explored orders of
scenarios.explored_orders() ("seq:DM-md": attach and DMA-map, mmap, munmap, detach).
The runner (patchbot.model.runner) forks per run, runs each scenario
clean and once per single fault of every kind in FAULT_KINDS.
"""

from __future__ import annotations

import logging

from patchbot.errors import InputError
from patchbot.model.bridge import Handler, Session
from patchbot.model.heap.handlers import FAULT_KINDS, make_handlers
from patchbot.model.heap.scenarios import SCENARIOS, configure, explored_orders, explored_step
from patchbot.model.state import PageModel

log = logging.getLogger(__name__)


class SystemHeapHarness:
    name = "system-heap"
    source = "drivers/dma-buf/heaps/system_heap.c"
    shim = "system_heap"
    fault_kinds = FAULT_KINDS

    EXPLORED_FAULTS = frozenset({"conversion", "partial-conversion", "dma-map"})

    def scenarios(self) -> list[str]:
        """The fixed lifecycles (every fault kind), then the explored orders."""
        return [*SCENARIOS, *explored_orders()]

    def pairs_for(self, scenario: str) -> bool:
        """Pairs of conversion faults on the fixed lifecycles only: on the explored
        orders the conversions (allocation, release) are the same in every order."""
        return scenario in SCENARIOS

    def fault_kinds_for(self, scenario: str) -> frozenset[str] | None:
        return None if scenario in SCENARIOS else self.EXPLORED_FAULTS

    def bound(self) -> str:
        return (
            f"{len(SCENARIOS)} lifecycles + {len(explored_orders())} orders of mmap/vmap/"
            "DMA set-up and teardown on one buffer"
        )

    def setup(self, model: PageModel) -> dict[str, Handler]:
        return make_handlers(model)

    def run(self, session: Session, scenario: str) -> None:
        try:
            step = SCENARIOS[scenario] if scenario in SCENARIOS else explored_step(scenario)
        except (KeyError, ValueError):
            raise InputError(
                f"unknown system-heap scenario {scenario!r} (known: {', '.join(SCENARIOS)})"
            ) from None
        lib = session.lib
        assert lib is not None, "the session must be attached to the loaded driver"
        configure(lib)
        if lib.pbu_boot() != 0:
            log.debug("module init failed; only the leak check runs")
        for heap in range(lib.pbu_heap_count()):
            step(lib, heap)
        lib.pbu_end()


HARNESS = SystemHeapHarness()

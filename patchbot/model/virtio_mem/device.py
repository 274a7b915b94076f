"""A virtio-mem device as the virtio spec describes it, answering requests at once.

Requests (VIRTIO_MEM_REQ_PLUG / UNPLUG / UNPLUG_ALL / STATE) carry addr and nb_blocks in
the UAPI struct virtio_mem_req layout; the C transport hands us those fields.  Responses
are VIRTIO_MEM_RESP_ACK / NACK / BUSY / ERROR.  Host-side effects of plug and unplug go
to the page model (which checks the host profile on unplug).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patchbot.model.state import PageModel

PAGE = 4096
REQ_PLUG, REQ_UNPLUG, REQ_UNPLUG_ALL, REQ_STATE = 0, 1, 2, 3
RESP_ACK, RESP_NACK, RESP_BUSY, RESP_ERROR = 0, 1, 2, 3


@dataclass
class VirtioMemDevice:
    model: PageModel
    addr: int
    region_size: int
    block_size: int
    requested_size: int = 0
    plugged: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plugged = [False] * (self.region_size // self.block_size)

    @property
    def plugged_size(self) -> int:
        return sum(self.plugged) * self.block_size

    @property
    def usable_region_size(self) -> int:
        return self.region_size

    def _blocks(self, addr: int, nb: int) -> range | None:
        if nb <= 0 or addr < self.addr or (addr - self.addr) % self.block_size:
            return None
        first = (addr - self.addr) // self.block_size
        if first + nb > len(self.plugged):
            return None
        return range(first, first + nb)

    def _pages(self, block: int) -> tuple[int, int]:
        return (self.addr + block * self.block_size) // PAGE, self.block_size // PAGE

    def request(self, rtype: int, addr: int, nb: int) -> int:
        if rtype == REQ_PLUG:
            blocks = self._blocks(addr, nb)
            if blocks is None or any(self.plugged[b] for b in blocks):
                return RESP_ERROR
            if self.plugged_size + nb * self.block_size > self.requested_size:
                return RESP_NACK
            for b in blocks:
                self.plugged[b] = True
                self.model.host_plug(*self._pages(b))
            return RESP_ACK
        if rtype == REQ_UNPLUG:
            blocks = self._blocks(addr, nb)
            if blocks is None or not all(self.plugged[b] for b in blocks):
                return RESP_ERROR
            for b in blocks:
                self.model.host_unplug(*self._pages(b))
                self.plugged[b] = False
            return RESP_ACK
        if rtype == REQ_UNPLUG_ALL:
            for b, on in enumerate(self.plugged):
                if on:
                    self.model.host_unplug(*self._pages(b))
                    self.plugged[b] = False
            return RESP_ACK
        if rtype == REQ_STATE:
            return RESP_ACK
        return RESP_ERROR

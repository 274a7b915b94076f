"""virtio-mem harness: the device model and the lifecycle scenarios for virtio_mem.c."""

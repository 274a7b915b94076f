#include_next <linux/virtio_config.h>
#include "../pb_virtio_mem.h"

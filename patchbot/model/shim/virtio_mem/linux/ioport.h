#include "../pb_virtio_mem.h"

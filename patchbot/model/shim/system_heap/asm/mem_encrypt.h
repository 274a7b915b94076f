/* shim: see pb_heap_kernel.h */
#include "pb_heap_kernel.h"

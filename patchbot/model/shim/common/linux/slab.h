#include "../pb_kernel.h"

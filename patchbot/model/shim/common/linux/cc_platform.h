#include "../pb_mm.h"

#include "ezlb_shim.h"

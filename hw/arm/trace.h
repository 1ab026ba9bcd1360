#include "trace/trace-overlay_hw_arm.h"

#include "trace/trace-overlay_target_i386.h"

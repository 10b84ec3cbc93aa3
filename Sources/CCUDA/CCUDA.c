// SwiftPM builds a C target only when it has a source file; CCUDA is declarations only
// (include/CCUDA.h), and nothing here is linked against CUDA.
#include "CCUDA.h"

// The one helper CCUDA.h declares; nothing here touches CUDA.
#define _GNU_SOURCE
#include <dlfcn.h>
#include "CCUDA.h"

const char *ccuda_loaded_object_path(const void *address) {
    Dl_info info;
    if (dladdr(address, &info) == 0) return NULL;
    return info.dli_fname;
}

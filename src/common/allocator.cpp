#include "common/allocator.h"

#include <malloc.h>

namespace sax {

void keep_work_buffers_on_heap() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace sax

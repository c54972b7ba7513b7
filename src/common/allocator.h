#pragma once
// How the process allocates memory for LibTorch's work buffers.

namespace sax {

// LibTorch on the CPU allocates and frees large work buffers (im2col, scratch, batches of
// windows) for every layer. glibc serves big blocks with fresh mmaps, so each one paid for the
// kernel zeroing new pages: a fifth of predict's time and a sixth of a training step's went to
// page faults. Served from the heap and not trimmed, the same
// memory is reused call after call; the price is that peak memory (~10% more) is kept until
// exit. Call once at the start of main(), before any thread starts.
void keep_work_buffers_on_heap();

}  // namespace sax

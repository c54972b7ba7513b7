#include "infer/numeric.h"

#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

extern "C" {
#include <libavutil/mem.h>
}

#include "common/error.h"

namespace sax {

RealFft::RealFft(int n) {
  const float scale = 1.0f;
  if (av_tx_init(&context_, &transform_, AV_TX_FLOAT_RDFT, /*inv=*/0, n, &scale, 0) < 0)
    throw Error(fmt::format("FFmpeg cannot make a real FFT of {} points", n));
  input_ = static_cast<float*>(av_mallocz(sizeof(float) * n));
  output_ = static_cast<float*>(av_malloc(sizeof(float) * (n + 2)));
  if (!input_ || !output_) throw Error("out of memory for the FFT buffers");
}

RealFft::~RealFft() {
  av_tx_uninit(&context_);
  av_free(input_);
  av_free(output_);
}

RealFft& RealFft::of_this_thread(int n) {
  thread_local std::map<int, std::unique_ptr<RealFft>> ffts;
  auto& fft = ffts[n];
  if (!fft) fft = std::make_unique<RealFft>(n);
  return *fft;
}

// Looked up at run time: the BLAS behind libblas.so.3 may lack the call, and then it is
// single-threaded anyway.
void keep_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
      set(1);
  });
}

}  // namespace sax

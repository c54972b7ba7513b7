#pragma once
// Building blocks the LibTorch-free front ends and networks share (internal to src/infer): a
// forward real FFT through FFmpeg's av_tx, and BLAS kept on its caller's thread.
extern "C" {
#include <libavutil/tx.h>
}

namespace sax {

// A forward real FFT of n points with its aligned buffers. An av_tx context must not be used by
// two threads at once, so each thread keeps its own (of_this_thread).
class RealFft {
 public:
  explicit RealFft(int n);  // throws sax::Error when FFmpeg cannot make it
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  float* input() { return input_; }  // n samples, zero until written
  // Transforms input(): n / 2 + 1 complex bins, interleaved re, im.
  const float* run() {
    transform_(context_, output_, input_, sizeof(float));
    return output_;
  }

  static RealFft& of_this_thread(int n);

 private:
  AVTXContext* context_ = nullptr;
  av_tx_fn transform_ = nullptr;
  float* input_ = nullptr;
  float* output_ = nullptr;
};

// Our networks spread their work over threads of their own, so each sgemm must stay on its
// caller's thread: OpenBLAS threads inside ours would oversubscribe the cores. Idempotent.
void keep_blas_single_threaded();

}  // namespace sax

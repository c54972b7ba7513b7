#include "infer/cnn.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include <cblas.h>
#include <fmt/format.h>

#include "common/error.h"

namespace sax {

namespace {

// LibTorch's BatchNorm2d default; the weights file holds only the statistics.
constexpr float kBatchNormEpsilon = 1e-5f;

// Windows are spread over our threads, so each sgemm must stay on its caller's thread: OpenBLAS
// threads inside threads oversubscribe the cores. Looked up at run time because the BLAS
// behind libblas.so.3 may be one without this call (then it is single-threaded anyway).
void keep_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
      set(1);
  });
}

std::vector<float> values(const WeightsFile& weights, const std::string& name,
                          const std::vector<int64_t>& shape) {
  return weights.at(name, shape).values;
}

// Lays out every k x k neighbourhood of `input` [channels, rows, cols] (zero padding k / 2) as
// the columns of `cols` [channels * k * k, out_rows * out_cols], so a convolution is one matrix
// product with the weights [out_channels, channels * k * k].
void im2col(const float* input, int channels, int rows, int cols, int k, int out_rows, int out_cols,
            float* out) {
  const int pad = k / 2;
  const size_t plane = static_cast<size_t>(out_rows) * out_cols;
  for (int c = 0; c < channels; ++c)
    for (int ki = 0; ki < k; ++ki)
      for (int kj = 0; kj < k; ++kj) {
        float* row = out + (static_cast<size_t>(c * k + ki) * k + kj) * plane;
        // Output columns x whose source column x + kj - pad lies inside the input.
        const int x0 = std::clamp(pad - kj, 0, out_cols);
        const int x1 = std::clamp(cols + pad - kj, x0, out_cols);
        for (int y = 0; y < out_rows; ++y, row += out_cols) {
          const int sy = y + ki - pad;
          if (sy < 0 || sy >= rows) {
            std::fill(row, row + out_cols, 0.0f);
            continue;
          }
          const float* src = input + (static_cast<size_t>(c) * rows + sy) * cols + (kj - pad);
          std::fill(row, row + x0, 0.0f);
          std::memcpy(row + x0, src + x0, sizeof(float) * (x1 - x0));
          std::fill(row + x1, row + out_cols, 0.0f);
        }
      }
}

// bias, ReLU, then 2x2 pooling (floor) of `conv` [channels, rows, cols] into `out`. Max pooling
// takes the maximum first: adding a channel's bias and ReLU are monotonic, so that is the same
// and does a quarter of the work.
void bias_relu_pool(const float* conv, const std::vector<float>& bias, int rows, int cols,
                    bool average, float* out) {
  const int pooled_rows = rows / 2, pooled_cols = cols / 2;
  for (size_t c = 0; c < bias.size(); ++c) {
    const float b = bias[c];
    const float* plane = conv + c * rows * cols;
    float* dst = out + c * pooled_rows * pooled_cols;
    for (int y = 0; y < pooled_rows; ++y, dst += pooled_cols) {
      const float* r0 = plane + static_cast<size_t>(2 * y) * cols;
      const float* r1 = r0 + cols;
      if (average) {
        for (int x = 0; x < pooled_cols; ++x)
          dst[x] = 0.25f * (std::max(r0[2 * x] + b, 0.0f) + std::max(r0[2 * x + 1] + b, 0.0f) +
                            std::max(r1[2 * x] + b, 0.0f) + std::max(r1[2 * x + 1] + b, 0.0f));
      } else {
        for (int x = 0; x < pooled_cols; ++x) {
          const float m =
              std::max(std::max(r0[2 * x], r0[2 * x + 1]), std::max(r1[2 * x], r1[2 * x + 1]));
          dst[x] = std::max(m + b, 0.0f);
        }
      }
    }
  }
}

}  // namespace

CnnLayout cnn_layout(const NetConfig& net, const FeatureConfig& features) {
  if (net.pool != "max" && net.pool != "avg")
    throw Error(fmt::format("net config: pool must be \"max\" or \"avg\", got \"{}\"", net.pool));
  CnnLayout layout;
  layout.rows = features.n_mels;
  layout.cols = features.frames;
  for (int b = 0; b < net.depth; ++b)
    layout.blocks.push_back({net.channels_of(b), net.kernel_of(b)});
  layout.batch_norm = net.batch_norm;
  layout.avg_pool = net.pool == "avg";
  layout.hidden = net.hidden;
  return layout;
}

// One thread's buffers, sized for the largest layer and reused window after window.
struct CnnRuntime::Workspace {
  std::vector<float> cols, conv, a, b, hidden;
};

CnnRuntime::CnnRuntime(const CnnLayout& layout, const WeightsFile& weights) : layout_(layout) {
  int channels = 1, rows = layout.rows, cols = layout.cols, module = 0;
  for (size_t b = 0; b < layout.blocks.size(); ++b) {
    Conv conv;
    conv.in_channels = channels;
    conv.out_channels = layout.blocks[b].channels;
    conv.kernel = layout.blocks[b].kernel;
    const int k = conv.kernel;
    conv.in_rows = rows;
    conv.in_cols = cols;
    conv.out_rows = rows + 2 * (k / 2) - k + 1;
    conv.out_cols = cols + 2 * (k / 2) - k + 1;
    if (conv.out_rows < 2 || conv.out_cols < 2)
      throw Error(fmt::format("{}: {} conv blocks are too deep for a {}x{} spectrogram",
                              weights.file().string(), layout.blocks.size(), layout.rows,
                              layout.cols));
    const auto prefix = fmt::format("features.{}.", module);
    const int64_t out = conv.out_channels, fan_in = static_cast<int64_t>(channels) * k * k;
    conv.weight = values(weights, prefix + "weight", {out, channels, k, k});
    if (layout.batch_norm) {  // y = (x - mean) / sqrt(var + eps) * gamma + beta, folded
      const auto bn = fmt::format("features.{}.", module + 1);
      const auto gamma = values(weights, bn + "weight", {out});
      const auto beta = values(weights, bn + "bias", {out});
      const auto mean = values(weights, bn + "running_mean", {out});
      const auto var = values(weights, bn + "running_var", {out});
      conv.bias.resize(out);
      for (int64_t o = 0; o < out; ++o) {
        const float scale = gamma[o] / std::sqrt(var[o] + kBatchNormEpsilon);
        for (int64_t i = 0; i < fan_in; ++i) conv.weight[o * fan_in + i] *= scale;
        conv.bias[o] = beta[o] - mean[o] * scale;
      }
    } else {
      conv.bias = values(weights, prefix + "bias", {out});
    }
    module += layout.batch_norm ? 4 : 3;  // conv, [batch norm], ReLU, pool
    channels = conv.out_channels;
    rows = conv.out_rows / 2;
    cols = conv.out_cols / 2;
    convs_.push_back(std::move(conv));
  }
  fc_inputs_ = static_cast<int64_t>(channels) * rows * cols;
  // The head's Sequential: [dropout, linear, ReLU,] dropout, linear.
  int64_t width = fc_inputs_;
  int index = 1;
  for (int64_t outputs :
       layout.hidden > 0 ? std::vector<int64_t>{layout.hidden, 1} : std::vector<int64_t>{1}) {
    const auto prefix = fmt::format("head.{}.", index);
    head_.push_back(Linear{static_cast<int>(width), static_cast<int>(outputs),
                           values(weights, prefix + "weight", {outputs, width}),
                           values(weights, prefix + "bias", {outputs})});
    width = outputs;
    index += 3;
  }
}

void CnnRuntime::forward_conv(const Conv& conv, const float* input, float* output,
                              Workspace& work) const {
  const int k = conv.kernel, plane = conv.out_rows * conv.out_cols;
  const int fan_in = conv.in_channels * k * k;
  work.cols.resize(static_cast<size_t>(fan_in) * plane);
  work.conv.resize(static_cast<size_t>(conv.out_channels) * plane);
  im2col(input, conv.in_channels, conv.in_rows, conv.in_cols, k, conv.out_rows, conv.out_cols,
         work.cols.data());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, conv.out_channels, plane, fan_in, 1.0f,
              conv.weight.data(), fan_in, work.cols.data(), plane, 0.0f, work.conv.data(), plane);
  bias_relu_pool(work.conv.data(), conv.bias, conv.out_rows, conv.out_cols, layout_.avg_pool,
                 output);
}

float CnnRuntime::logit(const Spectrogram& input, Workspace& work) const {
  if (input.rows != layout_.rows || input.cols != layout_.cols ||
      input.values.size() != static_cast<size_t>(input.rows) * input.cols)
    throw Error(fmt::format("CNN: a {}x{} spectrogram for a model of {}x{} inputs", input.rows,
                            input.cols, layout_.rows, layout_.cols));
  const float* x = input.values.data();
  std::vector<float>* out = &work.a;
  for (const Conv& conv : convs_) {
    out->resize(static_cast<size_t>(conv.out_channels) * (conv.out_rows / 2) * (conv.out_cols / 2));
    forward_conv(conv, x, out->data(), work);
    x = out->data();
    out = out == &work.a ? &work.b : &work.a;
  }
  // Flattened [C, H, W] as LibTorch's flatten(1); ReLU between the fully connected layers.
  for (size_t l = 0; l < head_.size(); ++l) {
    const Linear& fc = head_[l];
    std::vector<float>& y = l % 2 == 0 ? work.hidden : *out;
    y.assign(fc.bias.begin(), fc.bias.end());
    cblas_sgemv(CblasRowMajor, CblasNoTrans, fc.outputs, fc.inputs, 1.0f, fc.weight.data(),
                fc.inputs, x, 1, 1.0f, y.data(), 1);
    if (l + 1 < head_.size())
      for (float& v : y) v = std::max(v, 0.0f);
    x = y.data();
  }
  return x[0];
}

std::vector<float> CnnRuntime::probabilities(const std::vector<Spectrogram>& inputs,
                                             int threads) const {
  keep_blas_single_threaded();
  std::vector<float> out(inputs.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min<int>(threads, static_cast<int>(inputs.size())));
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    Workspace workspace;
    try {
      for (size_t i = next++; i < inputs.size(); i = next++)
        out[i] = 1.0f / (1.0f + std::exp(-logit(inputs[i], workspace)));
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      failure = std::current_exception();
      next = inputs.size();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace sax

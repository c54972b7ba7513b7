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

// At least n floats of `buffer`. It never shrinks: the layers take turns with the same buffers,
// and growing a vector again would zero the regrown part for every window.
float* room(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
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

// bias, ReLU, then 2x2 pooling (floor) of `conv` [channels, rows, cols] into `out`, or 2x1
// (rows only) when `pool_time` is false. Max pooling takes the maximum first: adding a
// channel's bias and ReLU are monotonic, so that is the same and does a quarter of the work.
void bias_relu_pool(const float* conv, const std::vector<float>& bias, int rows, int cols,
                    bool pool_time, bool average, float* out) {
  const int step = pool_time ? 2 : 1;
  const int pooled_rows = rows / 2, pooled_cols = cols / step;
  const float share = 1.0f / (2 * step);
  for (size_t c = 0; c < bias.size(); ++c) {
    const float b = bias[c];
    const float* plane = conv + c * rows * cols;
    float* dst = out + c * pooled_rows * pooled_cols;
    for (int y = 0; y < pooled_rows; ++y, dst += pooled_cols) {
      const float* r0 = plane + static_cast<size_t>(2 * y) * cols;
      const float* r1 = r0 + cols;
      for (int x = 0; x < pooled_cols; ++x) {
        const float* a = r0 + step * x;
        const float* d = r1 + step * x;
        if (average) {
          float sum = 0;
          for (int j = 0; j < step; ++j) sum += std::max(a[j] + b, 0.0f) + std::max(d[j] + b, 0.0f);
          dst[x] = share * sum;
        } else {
          float m = std::max(a[0], d[0]);
          if (step == 2) m = std::max(m, std::max(a[1], d[1]));
          dst[x] = std::max(m + b, 0.0f);
        }
      }
    }
  }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// LibTorch's linear-softmax pooling of step probabilities (net.cpp CnnImpl::pool_steps).
float linear_softmax(const float* p, int count) {
  double squares = 0, sum = 0;
  for (int i = 0; i < count; ++i) squares += double(p[i]) * p[i], sum += p[i];
  return static_cast<float>(std::clamp(squares / std::max(sum, 1e-7), 1e-6, 1 - 1e-6));
}

}  // namespace

CnnLayout cnn_layout(const NetConfig& net, const FeatureConfig& features) {
  if (net.pool != "max" && net.pool != "avg")
    throw Error(fmt::format("net config: pool must be \"max\" or \"avg\", got \"{}\"", net.pool));
  require_settled(net);
  CnnLayout layout;
  layout.rows = features.n_mels;
  layout.cols = features.frames;
  for (int b = 0; b < net.depth; ++b)
    layout.blocks.push_back({net.channels_of(b), net.kernel_of(b), net.pools_time(b)});
  layout.batch_norm = net.batch_norm;
  layout.avg_pool = net.pool == "avg";
  layout.hidden = net.hidden;
  layout.frame_head = net.head == "frames";
  layout.gru = net.gru;
  return layout;
}

// One thread's buffers, sized for the largest layer and reused window after window.
struct CnnRuntime::Workspace {
  std::vector<float> cols, conv, a, b, hidden, out;
  std::vector<float> features;  // [steps, fc_inputs]: each step's input to the head
  std::vector<float> gates, state, state_gates, recurrent;
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
    conv.pool_time = layout.blocks[b].pool_time;
    channels = conv.out_channels;
    rows = conv.pooled_rows();
    cols = conv.pooled_cols();
    convs_.push_back(std::move(conv));
  }
  if (layout.frame_head) steps_ = cols;
  fc_inputs_ = layout.frame_head ? channels : static_cast<int64_t>(channels) * rows * cols;
  int64_t width = fc_inputs_;
  if (layout.gru > 0) {
    const int64_t units = layout.gru, gates = 3 * units;
    for (const std::string direction : {"", "_reverse"}) {
      auto linear = [&](const std::string& kind, int64_t inputs) {
        return Linear{static_cast<int>(inputs), static_cast<int>(gates),
                      values(weights, "gru.weight_" + kind + "_l0" + direction, {gates, inputs}),
                      values(weights, "gru.bias_" + kind + "_l0" + direction, {gates})};
      };
      gru_.push_back({linear("ih", width), linear("hh", units)});
    }
    width = 2 * units;
  }
  // The head's Sequential: [dropout, linear, ReLU,] dropout, linear.
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
  float* columns = room(work.cols, static_cast<size_t>(fan_in) * plane);
  float* products = room(work.conv, static_cast<size_t>(conv.out_channels) * plane);
  im2col(input, conv.in_channels, conv.in_rows, conv.in_cols, k, conv.out_rows, conv.out_cols,
         columns);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, conv.out_channels, plane, fan_in, 1.0f,
              conv.weight.data(), fan_in, columns, plane, 0.0f, products, plane);
  bias_relu_pool(products, conv.bias, conv.out_rows, conv.out_cols, conv.pool_time,
                 layout_.avg_pool, output);
}

// The fully connected head on x (fc_inputs_ values), ReLU between its layers.
float CnnRuntime::head_logit(const float* x, Workspace& work) const {
  for (size_t l = 0; l < head_.size(); ++l) {
    const Linear& fc = head_[l];
    std::vector<float>& y = l % 2 == 0 ? work.hidden : work.out;
    y.assign(fc.bias.begin(), fc.bias.end());
    cblas_sgemv(CblasRowMajor, CblasNoTrans, fc.outputs, fc.inputs, 1.0f, fc.weight.data(),
                fc.inputs, x, 1, 1.0f, y.data(), 1);
    if (l + 1 < head_.size())
      for (float& v : y) v = std::max(v, 0.0f);
    x = y.data();
  }
  return x[0];
}

// The last conv map [channels, rows, steps] averaged over frequency into work.features
// [steps, channels], LibTorch's mean(2).transpose(1, 2).
void CnnRuntime::step_features(const float* conv_out, Workspace& work) const {
  const Conv& last = convs_.back();
  const int channels = last.out_channels, rows = last.pooled_rows();
  work.features.assign(static_cast<size_t>(steps_) * channels, 0.0f);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < rows; ++y) {
      const float* row = conv_out + (static_cast<size_t>(c) * rows + y) * steps_;
      for (int t = 0; t < steps_; ++t)
        work.features[static_cast<size_t>(t) * channels + c] += row[t];
    }
  for (float& v : work.features) v /= static_cast<float>(rows);
}

// LibTorch's bidirectional GRU over work.features into work.recurrent [steps, 2 * units]:
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
// The input projections of all steps are one matrix product; the recurrence is step by step.
void CnnRuntime::run_gru(Workspace& work) const {
  const int units = gru_[0].hidden.inputs, gates = 3 * units;
  const int inputs = gru_[0].input.inputs;
  work.recurrent.resize(static_cast<size_t>(steps_) * 2 * units);
  for (int d = 0; d < 2; ++d) {
    const GruDirection& dir = gru_[d];
    work.gates.resize(static_cast<size_t>(steps_) * gates);  // [steps, 3 * units]
    for (int t = 0; t < steps_; ++t)
      std::copy(dir.input.bias.begin(), dir.input.bias.end(), work.gates.begin() + t * gates);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, steps_, gates, inputs, 1.0f,
                work.features.data(), inputs, dir.input.weight.data(), inputs, 1.0f,
                work.gates.data(), gates);
    work.state.assign(units, 0.0f);
    for (int i = 0; i < steps_; ++i) {
      const int t = d == 0 ? i : steps_ - 1 - i;
      work.state_gates.assign(dir.hidden.bias.begin(), dir.hidden.bias.end());
      cblas_sgemv(CblasRowMajor, CblasNoTrans, gates, units, 1.0f, dir.hidden.weight.data(), units,
                  work.state.data(), 1, 1.0f, work.state_gates.data(), 1);
      const float* x = work.gates.data() + static_cast<size_t>(t) * gates;
      const float* h = work.state_gates.data();
      float* out = work.recurrent.data() + static_cast<size_t>(t) * 2 * units + d * units;
      for (int j = 0; j < units; ++j) {
        const float r = sigmoid(x[j] + h[j]);
        const float z = sigmoid(x[units + j] + h[units + j]);
        const float n = std::tanh(x[2 * units + j] + r * h[2 * units + j]);
        out[j] = work.state[j] = (1.0f - z) * n + z * work.state[j];
      }
    }
  }
}

float CnnRuntime::probability(const Spectrogram& input, Workspace& work, float* steps) const {
  if (input.rows != layout_.rows || input.cols != layout_.cols ||
      input.values.size() != static_cast<size_t>(input.rows) * input.cols)
    throw Error(fmt::format("CNN: a {}x{} spectrogram for a model of {}x{} inputs", input.rows,
                            input.cols, layout_.rows, layout_.cols));
  const float* x = input.values.data();
  std::vector<float>* out = &work.a;
  for (const Conv& conv : convs_) {
    forward_conv(conv, x,
                 room(*out, static_cast<size_t>(conv.out_channels) * conv.pooled_rows() *
                                conv.pooled_cols()),
                 work);
    x = out->data();
    out = out == &work.a ? &work.b : &work.a;
  }
  // Window head: flattened [C, H, W] as LibTorch's flatten(1).
  if (!layout_.frame_head) return sigmoid(head_logit(x, work));
  // Frame head: each time step's channels averaged over frequency, [through the GRU,] scored
  // one by one.
  step_features(x, work);
  if (!gru_.empty()) run_gru(work);
  const std::vector<float>& head_inputs = gru_.empty() ? work.features : work.recurrent;
  const size_t width = head_inputs.size() / steps_;
  for (int t = 0; t < steps_; ++t)
    steps[t] = sigmoid(head_logit(head_inputs.data() + t * width, work));
  return linear_softmax(steps, steps_);
}

std::vector<float> CnnRuntime::probabilities(const std::vector<Spectrogram>& inputs, int threads,
                                             std::vector<float>* steps) const {
  keep_blas_single_threaded();
  std::vector<float> out(inputs.size());
  // A frame head writes its steps somewhere even when the caller does not want them.
  std::vector<float> unwanted;
  std::vector<float>& step_out = steps ? *steps : unwanted;
  step_out.assign(inputs.size() * steps_, 0.0f);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min<int>(threads, static_cast<int>(inputs.size())));
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    Workspace workspace;
    try {
      for (size_t i = next++; i < inputs.size(); i = next++)
        out[i] = probability(inputs[i], workspace, step_out.data() + i * steps_);
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

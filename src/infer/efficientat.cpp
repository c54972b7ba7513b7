// EfficientAT mn04_as without LibTorch: front end, body, classifier, and the scorer on top.
#include "infer/efficientat.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

extern "C" {
#include <cblas.h>
}

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "infer/builtin_model.h"
#include "infer/numeric.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Front end (EfficientAT's AugmentMelSTFT in eval mode)

constexpr int kFft = 1024;
constexpr int kBins = kFft / 2 + 1;
constexpr int kHannLength = 800;
constexpr float kPreEmphasis = 0.97f;
constexpr double kMelFmax = 15000;  // sample rate / 2 minus half of training's 2 kHz fmax jitter
constexpr double kPi = 3.14159265358979323846;

struct FrontEndPlan {
  std::vector<float> window;  // symmetric Hann, kHannLength samples
  // Each Kaldi triangle touches a few bins: mel m weighs bins first[m] .. first[m] + count[m] - 1
  // with weights[offset[m] ..].
  std::vector<int> first, count, offset;
  std::vector<float> weights;
};

double kaldi_mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

// torchaudio.compliance.kaldi.get_mel_banks (no VTLN) over bins 0 .. n_fft / 2 - 1; the Nyquist
// bin gets weight 0, as EfficientAT pads the bank with a zero column.
FrontEndPlan make_front_end_plan() {
  FrontEndPlan plan;
  plan.window.resize(kHannLength);
  for (int n = 0; n < kHannLength; ++n)
    plan.window[n] = static_cast<float>(0.5 - 0.5 * std::cos(2 * kPi * n / (kHannLength - 1)));
  const double lo = kaldi_mel(0), hi = kaldi_mel(kMelFmax);
  const double delta = (hi - lo) / (kEfficientAtMels + 1);
  const double bin_hz = static_cast<double>(kEfficientAtRate) / kFft;
  for (int m = 0; m < kEfficientAtMels; ++m) {
    const double left = lo + m * delta, centre = left + delta, right = centre + delta;
    plan.first.push_back(-1);
    plan.offset.push_back(static_cast<int>(plan.weights.size()));
    for (int k = 0; k < kFft / 2; ++k) {
      const double mel = kaldi_mel(bin_hz * k);
      const double w =
          std::max(0.0, std::min((mel - left) / (centre - left), (right - mel) / (right - centre)));
      if (w <= 0) continue;
      if (plan.first.back() < 0) plan.first.back() = k;
      // Bins between the first and this one with weight 0 cannot occur: a triangle is convex.
      plan.weights.push_back(static_cast<float>(w));
    }
    plan.count.push_back(static_cast<int>(plan.weights.size()) - plan.offset.back());
    if (plan.first.back() < 0) plan.first.back() = 0;
  }
  return plan;
}

const FrontEndPlan& front_end_plan() {
  static const FrontEndPlan plan = make_front_end_plan();
  return plan;
}

int thread_count(int threads, long work_items) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(std::clamp<long>(work_items, 1, threads));
}

// Runs fn(begin, end) over [0, n) split into `threads` contiguous parts, one per thread (the
// caller's thread takes the first).
template <class Fn>
void parallel_for(long n, int threads, const Fn& fn) {
  threads = thread_count(threads, n);
  if (threads == 1) return fn(0L, n);
  std::vector<std::thread> pool;
  auto part = [&](int t) { return n * t / threads; };
  for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { fn(part(t), part(t + 1)); });
  fn(0L, part(1));
  for (auto& thread : pool) thread.join();
}

// The pre-emphasised signal y[n] = x[n+1] - 0.97 x[n], reflect-padded by n_fft / 2 on both
// sides (the edge sample not repeated), as torch.stft(center=True) pads it.
std::vector<float> emphasised_padded(const float* x, long n) {
  const long length = n - 1, pad = kFft / 2;
  std::vector<float> y(static_cast<size_t>(length + 2 * pad));
  for (long j = 0; j < length; ++j) y[pad + j] = x[j + 1] - kPreEmphasis * x[j];
  for (long i = 0; i < pad; ++i) {
    y[i] = y[2 * pad - i];                          // j = i - pad < 0: -j
    y[pad + length + i] = y[pad + length - 2 - i];  // j >= length: 2 (length-1) - j
  }
  return y;
}

// Frames [begin, end) of the log-mel of the padded signal `y`.
void log_mel_frames(const std::vector<float>& y, long begin, long end, Spectrogram& out) {
  const FrontEndPlan& plan = front_end_plan();
  RealFft fft(kFft);  // its own: the samples outside the window stay zero
  float* frame = fft.input();
  const int offset = (kFft - kHannLength) / 2;
  std::vector<float> power(kBins);
  for (long t = begin; t < end; ++t) {
    const float* src = y.data() + t * kEfficientAtHop + offset;
    for (int i = 0; i < kHannLength; ++i) frame[offset + i] = src[i] * plan.window[i];
    const float* z = fft.run();
    for (int k = 0; k < kBins; ++k) power[k] = z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1];
    for (int m = 0; m < kEfficientAtMels; ++m) {
      const float* w = plan.weights.data() + plan.offset[m];
      const float* p = power.data() + plan.first[m];
      double sum = 0;
      for (int j = 0; j < plan.count[m]; ++j) sum += static_cast<double>(w[j]) * p[j];
      out.values[static_cast<size_t>(m) * out.cols + t] =
          static_cast<float>((std::log(sum + 1e-5) + 4.5) / 5.0);
    }
  }
}

}  // namespace

Spectrogram efficientat_log_mel(const float* audio, size_t count) {
  std::vector<float> padded;
  if (count < static_cast<size_t>(kFft)) {  // reflect padding needs more than n_fft / 2 samples
    padded.assign(kFft, 0.0f);
    std::copy_n(audio, count, padded.begin());
    audio = padded.data();
    count = padded.size();
  }
  Spectrogram s;
  s.rows = kEfficientAtMels;
  s.cols = 1 + static_cast<int>((count - 1) / kEfficientAtHop);
  s.values.resize(static_cast<size_t>(s.rows) * s.cols);
  const auto y = emphasised_padded(audio, static_cast<long>(count));
  parallel_for(s.cols, 0, [&](long begin, long end) { log_mel_frames(y, begin, end, s); });
  return s;
}

// ---------------------------------------------------------------------------------------------
// The network

namespace {

enum class Activation { kNone, kRelu, kHardswish };

// Batch norm's epsilon in EfficientAT's MobileNetV3 (nn.BatchNorm2d(eps=0.001)).
constexpr double kBatchNormEpsilon = 1e-3;

// Per bneck block 1..15 of MobileNetV3-Large: depthwise kernel, squeeze-excitation, activation
// ReLU (else hardswish), stride. Channel counts come from the tensors' shapes.
struct BlockSpec {
  int kernel;
  bool se;
  bool relu;
  int stride;
};
constexpr BlockSpec kBlocks[] = {{3, false, true, 1},  {3, false, true, 2},  {3, false, true, 1},
                                 {5, true, true, 2},   {5, true, true, 1},   {5, true, true, 1},
                                 {3, false, false, 2}, {3, false, false, 1}, {3, false, false, 1},
                                 {3, false, false, 1}, {3, true, false, 1},  {3, true, false, 1},
                                 {5, true, false, 2},  {5, true, false, 1},  {5, true, false, 1}};
constexpr int kLastFeature = 16;  // features.16: the 1x1 convolution before pooling

inline float hardswish(float x) { return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f; }

void activate(float* x, size_t n, Activation a) {
  if (a == Activation::kRelu)
    for (size_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
  else if (a == Activation::kHardswish)
    for (size_t i = 0; i < n; ++i) x[i] = hardswish(x[i]);
}

struct Map {  // channels x rows (frequency) x cols (time), row-major
  int channels = 0, rows = 0, cols = 0;
  std::vector<float> values;
  size_t plane() const { return static_cast<size_t>(rows) * cols; }
  float* channel(int c) { return values.data() + c * plane(); }
  const float* channel(int c) const { return values.data() + c * plane(); }
};

Map make_map(int channels, int rows, int cols) {
  Map m{channels, rows, cols, {}};
  m.values.resize(static_cast<size_t>(channels) * m.plane());
  return m;
}

int strided(int size, int stride) { return stride == 1 ? size : (size + 1) / 2; }

struct Linear {
  int inputs = 0, outputs = 0;
  std::vector<float> weight;  // [outputs, inputs]
  std::vector<float> bias;
};

// y[n x outputs] = x[n x inputs] W^T + b.
std::vector<float> apply(const Linear& l, const float* x, int n) {
  std::vector<float> y(static_cast<size_t>(n) * l.outputs);
  for (int i = 0; i < n; ++i) std::copy(l.bias.begin(), l.bias.end(), y.begin() + i * l.outputs);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l.outputs, l.inputs, 1.0f, x, l.inputs,
              l.weight.data(), l.inputs, 1.0f, y.data(), l.outputs);
  return y;
}

struct Conv1x1 {  // batch norm folded in
  Linear linear;  // [out channels, in channels]
};

struct Depthwise {  // batch norm folded in; padding kernel / 2
  int channels = 0, kernel = 0, stride = 1;
  std::vector<float> weight;  // [channels, kernel * kernel]
  std::vector<float> bias;
};

struct Block {
  bool expand = false;
  Conv1x1 expansion;  // when expand
  Depthwise depthwise;
  Activation activation = Activation::kRelu;
  bool se = false;
  Linear se_reduce, se_expand;  // ReLU between, sigmoid after
  Conv1x1 projection;           // no activation
  bool residual = false;
};

}  // namespace

struct EfficientAt::Net {
  Depthwise stem;  // one input channel, one filter per output channel
  std::vector<Block> blocks;
  Conv1x1 last;
  Linear hidden, classes;
  std::vector<float> sax_weight;  // classifier.5's Saxophone row plus head.weight
  float sax_bias = 0;
};

namespace {

// Tensors by state_dict name from the base weights, or from the overrides where they hold one.
class TensorSource {
 public:
  TensorSource(const WeightsFile& base, const WeightsFile* overrides)
      : base_(base), overrides_(overrides) {}

  const WeightTensor& at(const std::string& name, const std::vector<int64_t>& shape) {
    used_.insert(name);
    if (overrides_ && overrides_->contains(name)) return overrides_->at(name, shape);
    return base_.at(name, shape);
  }
  bool contains(const std::string& name) const {
    return base_.contains(name) || (overrides_ && overrides_->contains(name));
  }
  // Dimension `i` of the base tensor `name`: the architecture is the base's.
  int dim(const std::string& name, size_t i) const {
    const auto it = base_.tensors().find(name);
    if (it == base_.tensors().end())
      throw Error(fmt::format("{}: no tensor {}", base_.file().string(), name));
    if (it->second.shape.size() <= i)
      throw Error(fmt::format("{}: tensor {} has shape {}, too few dimensions",
                              base_.file().string(), name, shape_text(it->second.shape)));
    return static_cast<int>(it->second.shape[i]);
  }
  // Overrides naming no tensor of the network are mistakes (a typo would silently do nothing).
  void check_overrides_used() const {
    if (!overrides_) return;
    for (const auto& [name, tensor] : overrides_->tensors())
      if (!used_.count(name) && !base_.contains(name))
        throw Error(fmt::format("{}: tensor {} is not part of EfficientAT mn04",
                                overrides_->file().string(), name));
  }

 private:
  const WeightsFile& base_;
  const WeightsFile* overrides_;
  std::set<std::string> used_;
};

// The batch norm `bn` (weight, bias, running mean and variance) as a per-channel scale and shift.
void fold_batch_norm(TensorSource& t, const std::string& bn, int channels,
                     std::vector<float>& scale, std::vector<float>& shift) {
  const std::vector<int64_t> shape{channels};
  const auto& gamma = t.at(bn + ".weight", shape).values;
  const auto& beta = t.at(bn + ".bias", shape).values;
  const auto& mean = t.at(bn + ".running_mean", shape).values;
  const auto& var = t.at(bn + ".running_var", shape).values;
  scale.resize(channels);
  shift.resize(channels);
  for (int c = 0; c < channels; ++c) {
    const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + kBatchNormEpsilon);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(beta[c] - mean[c] * s);
  }
}

// A bias-free convolution `prefix`.0 followed by batch norm `prefix`.1, folded: weight rows are
// output channels.
void load_conv_bn(TensorSource& t, const std::string& prefix, const std::vector<int64_t>& shape,
                  std::vector<float>& weight, std::vector<float>& bias) {
  weight = t.at(prefix + ".0.weight", shape).values;
  std::vector<float> scale;
  fold_batch_norm(t, prefix + ".1", static_cast<int>(shape[0]), scale, bias);
  const size_t per_output = weight.size() / static_cast<size_t>(shape[0]);
  for (size_t o = 0; o < static_cast<size_t>(shape[0]); ++o)
    for (size_t i = 0; i < per_output; ++i) weight[o * per_output + i] *= scale[o];
}

Conv1x1 load_conv1x1(TensorSource& t, const std::string& prefix, int in, int out) {
  Conv1x1 c;
  c.linear.inputs = in;
  c.linear.outputs = out;
  load_conv_bn(t, prefix, {out, in, 1, 1}, c.linear.weight, c.linear.bias);
  return c;
}

Depthwise load_depthwise(TensorSource& t, const std::string& prefix, int channels, int kernel,
                         int stride) {
  Depthwise d;
  d.channels = channels;
  d.kernel = kernel;
  d.stride = stride;
  load_conv_bn(t, prefix, {channels, 1, kernel, kernel}, d.weight, d.bias);
  return d;
}

Linear load_linear(TensorSource& t, const std::string& prefix, int in, int out) {
  Linear l;
  l.inputs = in;
  l.outputs = out;
  l.weight = t.at(prefix + ".weight", {out, in}).values;
  l.bias = t.at(prefix + ".bias", {out}).values;
  return l;
}

Block load_block(TensorSource& t, int index, int in_channels) {
  const BlockSpec& spec = kBlocks[index - 1];
  const std::string p = fmt::format("features.{}.block.", index);
  Block b;
  int layer = 0, channels = in_channels;
  // A block whose expanded width equals its input has no expansion: its layer 0 is depthwise.
  b.expand = t.contains(p + "0.0.weight") && t.dim(p + "0.0.weight", 1) != 1;
  b.activation = spec.relu ? Activation::kRelu : Activation::kHardswish;
  if (b.expand) {
    channels = t.dim(p + "0.0.weight", 0);
    b.expansion = load_conv1x1(t, p + "0", in_channels, channels);
    ++layer;
  }
  b.depthwise =
      load_depthwise(t, fmt::format("{}{}", p, layer++), channels, spec.kernel, spec.stride);
  b.se = spec.se;
  if (b.se) {
    const std::string se = fmt::format("{}{}.conc_se_layers.0.", p, layer++);
    const int squeeze = t.dim(se + "fc1.weight", 0);
    b.se_reduce = load_linear(t, se + "fc1", channels, squeeze);
    b.se_expand = load_linear(t, se + "fc2", squeeze, channels);
  }
  const std::string projection = fmt::format("{}{}", p, layer);
  b.projection = load_conv1x1(t, projection, channels, t.dim(projection + ".0.weight", 0));
  b.residual = spec.stride == 1 && in_channels == b.projection.linear.outputs;
  return b;
}

// The classifier's Saxophone row plus the head (zero when there is none).
void load_saxophone(TensorSource& t, const Linear& classes, std::vector<float>& weight,
                    float& bias) {
  const int hidden = classes.inputs;
  weight.assign(classes.weight.begin() + static_cast<size_t>(kAudioSetSaxophone) * hidden,
                classes.weight.begin() + static_cast<size_t>(kAudioSetSaxophone + 1) * hidden);
  bias = classes.bias[kAudioSetSaxophone];
  if (!t.contains("head.weight") && !t.contains("head.bias")) return;
  const auto& head = t.at("head.weight", {1, hidden}).values;
  for (int i = 0; i < hidden; ++i) weight[i] += head[i];
  bias += t.at("head.bias", {1}).values[0];
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution of one plane: the input is first copied with its zero padding around it
// (and, for stride 2, each row split into even and odd columns) so that the inner loop runs
// over contiguous memory with no bounds checks, which the compiler vectorises. A plane may be a
// band of columns of a wider map (a tile): the padding is zeros only at the map's own edges.

// Where a band of a plane lies: `rows` x `cols` values, row pitch `cols`, holding the map's
// columns [first, first + cols) of `map_cols`.
struct Band {
  const float* values;
  int rows, cols, first, map_cols;
};

// The padded rows of `in` that output columns from `first_col` / S need: padded column j is
// the map's column first_col + j (zero outside the map), and P zero rows lie above and below.
// Stride 2 stores each padded row as its even columns, then its odd ones. `pitch`: padded width.
template <int P, int S>
void prepare_plane(const Band& in, int first_col, float* out, int pitch) {
  std::fill(out, out + static_cast<size_t>(in.rows + 2 * P) * pitch, 0.0f);
  const int evens = (pitch + 1) / 2;
  // Padded columns [lo, hi) lie inside the band.
  const int lo = std::max(0, std::max(in.first, 0) - first_col);
  const int hi = std::min(pitch, std::min(in.first + in.cols, in.map_cols) - first_col);
  for (int r = 0; r < in.rows; ++r) {
    float* row = out + static_cast<size_t>(r + P) * pitch;
    const float* src = in.values + static_cast<size_t>(r) * in.cols + (first_col - in.first);
    if (S == 1) {
      if (hi > lo) std::copy(src + lo, src + hi, row + lo);
    } else {
      for (int j = lo; j < hi; ++j) row[(j & 1) ? evens + j / 2 : j / 2] = src[j];
    }
  }
}

template <int K, int S>
void depthwise_plane(const float* padded, int pitch, const float* weight, float bias, float* out,
                     int out_rows, int out_cols) {
  float w[K * K];
  std::copy_n(weight, K * K, w);
  const int evens = (pitch + 1) / 2;
  for (int y = 0; y < out_rows; ++y) {
    const float* rows[K];
    for (int i = 0; i < K; ++i) rows[i] = padded + static_cast<size_t>(y * S + i) * pitch;
    float* o = out + static_cast<size_t>(y) * out_cols;
    for (int x = 0; x < out_cols; ++x) {
      float sum = bias;
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) {
          // Stride 2: padded column 2x + j is even column x + j / 2 or odd column x + (j-1) / 2.
          const int at = S == 1 ? x + j : (j % 2 == 0 ? x + j / 2 : evens + x + j / 2);
          sum += w[i * K + j] * rows[i][at];
        }
      o[x] = sum;
    }
  }
}

// Output columns [first_out, first_out + out_cols) of one channel.
template <int K, int S>
void depthwise_channel(const Band& in, const float* weight, float bias, int first_out, int out_cols,
                       float* out, std::vector<float>& scratch) {
  constexpr int P = K / 2;
  const int pitch = (out_cols - 1) * S + K + 1;  // + 1: stride 2's odd half never runs short
  scratch.resize(static_cast<size_t>(in.rows + 2 * P) * pitch);
  prepare_plane<P, S>(in, first_out * S - P, scratch.data(), pitch);
  depthwise_plane<K, S>(scratch.data(), pitch, weight, bias, out, strided(in.rows, S), out_cols);
}

// Channel `c` of `d` on the band `in`: output columns [first_out, first_out + out_cols).
void depthwise(const Depthwise& d, int c, const Band& in, int first_out, int out_cols, float* out,
               std::vector<float>& scratch) {
  const float* w = d.weight.data() + static_cast<size_t>(c) * d.kernel * d.kernel;
  const float b = d.bias[c];
  switch (d.kernel * 10 + d.stride) {
    case 31:
      return depthwise_channel<3, 1>(in, w, b, first_out, out_cols, out, scratch);
    case 32:
      return depthwise_channel<3, 2>(in, w, b, first_out, out_cols, out, scratch);
    case 51:
      return depthwise_channel<5, 1>(in, w, b, first_out, out_cols, out, scratch);
    case 52:
      return depthwise_channel<5, 2>(in, w, b, first_out, out_cols, out, scratch);
    default:
      throw Error(
          fmt::format("EfficientAT: no depthwise {}x{} stride {}", d.kernel, d.kernel, d.stride));
  }
}

// out rows [first, last) of `conv` on `in` (all input channels): out = W x + b.
void conv1x1_rows(const Conv1x1& conv, const Map& in, int first, int last, Map& out) {
  const auto& l = conv.linear;
  const size_t n = in.plane();
  for (int o = first; o < last; ++o) std::fill_n(out.channel(o), n, l.bias[o]);
  if (last > first)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, last - first, static_cast<int>(n),
                l.inputs, 1.0f, l.weight.data() + static_cast<size_t>(first) * l.inputs, l.inputs,
                in.values.data(), static_cast<int>(n), 1.0f, out.channel(first),
                static_cast<int>(n));
}

// The squeeze-excitation's gate per channel and column ([channels][cols]): each column sees the
// channel means over `span` columns centred on it (the whole map when span >= cols).
std::vector<float> se_gates(const Block& b, const Map& m, int span) {
  const int channels = m.channels, cols = m.cols;
  std::vector<double> prefix(static_cast<size_t>(channels) * (cols + 1), 0.0);
  std::vector<float> sums(cols);
  for (int c = 0; c < channels; ++c) {
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (int y = 0; y < m.rows; ++y) {
      const float* row = m.channel(c) + static_cast<size_t>(y) * cols;
      for (int x = 0; x < cols; ++x) sums[x] += row[x];
    }
    double* p = prefix.data() + static_cast<size_t>(c) * (cols + 1);
    for (int x = 0; x < cols; ++x) p[x + 1] = p[x] + sums[x];
  }
  const bool global = span >= cols;
  const int distinct = global ? 1 : cols;
  std::vector<float> means(static_cast<size_t>(distinct) * channels);
  for (int x = 0; x < distinct; ++x) {
    const int begin = global ? 0 : std::clamp(x - span / 2, 0, cols - span);
    const int end = global ? cols : begin + span;
    for (int c = 0; c < channels; ++c) {
      const double* p = prefix.data() + static_cast<size_t>(c) * (cols + 1);
      means[static_cast<size_t>(x) * channels + c] =
          static_cast<float>((p[end] - p[begin]) / (static_cast<double>(end - begin) * m.rows));
    }
  }
  std::vector<float> hidden = apply(b.se_reduce, means.data(), distinct);
  activate(hidden.data(), hidden.size(), Activation::kRelu);
  const std::vector<float> gates = apply(b.se_expand, hidden.data(), distinct);
  std::vector<float> out(static_cast<size_t>(channels) * cols);  // [channels][cols]
  for (int c = 0; c < channels; ++c)
    for (int x = 0; x < cols; ++x) {
      const float g = gates[static_cast<size_t>(global ? 0 : x) * channels + c];
      out[static_cast<size_t>(c) * cols + x] = 1.0f / (1.0f + std::exp(-g));
    }
  return out;
}

// Gates `tile`, columns [first, first + tile.cols) of a map of `cols` columns, in place.
void apply_gates(const std::vector<float>& gates, int cols, int first, Map& tile) {
  for (int c = 0; c < tile.channels; ++c) {
    const float* g = gates.data() + static_cast<size_t>(c) * cols + first;
    for (int y = 0; y < tile.rows; ++y) {
      float* row = tile.channel(c) + static_cast<size_t>(y) * tile.cols;
      for (int x = 0; x < tile.cols; ++x) row[x] *= g[x];
    }
  }
}

// Columns of the map per log-mel frame at this depth: `frame_stride` frames per column.
int se_span(int se_frames, int frame_stride) {
  return se_frames <= 0 ? std::numeric_limits<int>::max()
                        : (se_frames + frame_stride - 1) / frame_stride;
}

// One thread's buffers for the tiles of a block.
struct TileWork {
  Map slice, expanded, mid, projected;
  std::vector<float> scratch;
};

void reshape(Map& m, int channels, int rows, int cols) {
  m.channels = channels;
  m.rows = rows;
  m.cols = cols;
  m.values.resize(static_cast<size_t>(channels) * m.plane());
}

// Columns [first, last) of every channel of `m`.
void slice_columns(const Map& m, int first, int last, Map& out) {
  reshape(out, m.channels, m.rows, last - first);
  for (int c = 0; c < m.channels; ++c)
    for (int y = 0; y < m.rows; ++y)
      std::copy_n(m.channel(c) + static_cast<size_t>(y) * m.cols + first, last - first,
                  out.channel(c) + static_cast<size_t>(y) * out.cols);
}

// Output columns per tile: a tile's expanded maps then stay within a core's cache (the early
// blocks' full maps are tens of MB, and passing them through memory three times per block cost
// more than the arithmetic).
int tile_cols(const Block& b, int in_rows) {
  const int bytes_per_col = b.depthwise.channels * in_rows * b.depthwise.stride * 4;
  return std::clamp((256 << 10) / std::max(1, bytes_per_col), 32, 1024);
}

// The block's depthwise output (activated) for output columns [first, last) into work.mid:
// expansion and depthwise of the input columns those need.
void tile_depthwise(const Block& b, const Map& in, int first, int last, TileWork& work) {
  const Depthwise& d = b.depthwise;
  const int pad = d.kernel / 2;
  const int in_first = std::max(0, first * d.stride - pad);
  const int in_last = std::min(in.cols, (last - 1) * d.stride + pad + 1);
  slice_columns(in, in_first, in_last, work.slice);
  const Map* source = &work.slice;
  if (b.expand) {
    reshape(work.expanded, d.channels, in.rows, in_last - in_first);
    conv1x1_rows(b.expansion, work.slice, 0, d.channels, work.expanded);
    activate(work.expanded.values.data(), work.expanded.values.size(), b.activation);
    source = &work.expanded;
  }
  reshape(work.mid, d.channels, strided(in.rows, d.stride), last - first);
  for (int c = 0; c < d.channels; ++c) {
    const Band band{source->channel(c), in.rows, in_last - in_first, in_first, in.cols};
    depthwise(d, c, band, first, last - first, work.mid.channel(c), work.scratch);
  }
  activate(work.mid.values.data(), work.mid.values.size(), b.activation);
}

// The projection of work.mid into output columns [first, first + work.mid.cols) of `out`, plus
// the block's input there when the block is residual.
void tile_projection(const Block& b, const Map& in, int first, TileWork& work, Map& out) {
  reshape(work.projected, out.channels, work.mid.rows, work.mid.cols);
  conv1x1_rows(b.projection, work.mid, 0, out.channels, work.projected);
  const int cols = work.mid.cols;
  for (int o = 0; o < out.channels; ++o)
    for (int y = 0; y < out.rows; ++y) {
      const size_t at = static_cast<size_t>(y) * out.cols + first;
      float* dst = out.channel(o) + at;
      const float* src = work.projected.channel(o) + static_cast<size_t>(y) * cols;
      if (b.residual) {
        const float* skip = in.channel(o) + at;
        for (int x = 0; x < cols; ++x) dst[x] = src[x] + skip[x];
      } else {
        std::copy_n(src, cols, dst);
      }
    }
}

void copy_columns(const Map& tile, int first, Map& m) {
  for (int c = 0; c < m.channels; ++c)
    for (int y = 0; y < m.rows; ++y)
      std::copy_n(tile.channel(c) + static_cast<size_t>(y) * tile.cols, tile.cols,
                  m.channel(c) + static_cast<size_t>(y) * m.cols + first);
}

// One inverted-residual block, tile by tile over time on up to `threads` threads. A block with
// squeeze-excitation needs the whole depthwise output before its gates, so it projects after.
Map run_block(const Block& b, const Map& in, int se_frames, int frame_stride, int threads) {
  const Depthwise& d = b.depthwise;
  const int rows = strided(in.rows, d.stride), cols = strided(in.cols, d.stride);
  Map out = make_map(b.projection.linear.outputs, rows, cols);
  Map mid;
  if (b.se) mid = make_map(d.channels, rows, cols);
  const int tile = tile_cols(b, in.rows), tiles = (cols + tile - 1) / tile;
  parallel_for(tiles, threads, [&](long first_tile, long last_tile) {
    TileWork work;
    for (long t = first_tile; t < last_tile; ++t) {
      const int first = static_cast<int>(t) * tile, last = std::min(cols, first + tile);
      tile_depthwise(b, in, first, last, work);
      if (b.se)
        copy_columns(work.mid, first, mid);
      else
        tile_projection(b, in, first, work, out);
    }
  });
  if (!b.se) return out;
  const auto gates = se_gates(b, mid, se_span(se_frames, frame_stride * d.stride));
  parallel_for(tiles, threads, [&](long first_tile, long last_tile) {
    TileWork work;
    for (long t = first_tile; t < last_tile; ++t) {
      const int first = static_cast<int>(t) * tile, last = std::min(cols, first + tile);
      slice_columns(mid, first, last, work.mid);
      apply_gates(gates, cols, first, work.mid);
      tile_projection(b, in, first, work, out);
    }
  });
  return out;
}

Map run_stem(const Depthwise& stem, const Spectrogram& mel, int threads) {
  Map out = make_map(stem.channels, strided(mel.rows, 2), strided(mel.cols, 2));
  const Band band{mel.values.data(), mel.rows, mel.cols, 0, mel.cols};
  parallel_for(stem.channels, threads, [&](long first, long last) {
    std::vector<float> scratch;
    for (long c = first; c < last; ++c)
      depthwise(stem, static_cast<int>(c), band, 0, out.cols, out.channel(c), scratch);
    activate(out.channel(first), (last - first) * out.plane(), Activation::kHardswish);
  });
  return out;
}

// features.16 (1x1, batch norm, hardswish) averaged over frequency: [cols][channels].
std::vector<float> step_means(const Conv1x1& last, const Map& in, int threads) {
  const int channels = last.linear.outputs;
  Map out = make_map(channels, in.rows, in.cols);
  std::vector<float> steps(static_cast<size_t>(in.cols) * channels);
  parallel_for(channels, threads, [&](long first, long end) {
    conv1x1_rows(last, in, static_cast<int>(first), static_cast<int>(end), out);
    activate(out.channel(first), (end - first) * out.plane(), Activation::kHardswish);
    for (long c = first; c < end; ++c)
      for (int x = 0; x < in.cols; ++x) {
        float sum = 0;
        for (int y = 0; y < in.rows; ++y)
          sum += out.channel(c)[static_cast<size_t>(y) * in.cols + x];
        steps[static_cast<size_t>(x) * channels + c] = sum / in.rows;
      }
  });
  return steps;
}

}  // namespace

EfficientAt::EfficientAt(const WeightsFile& weights, const WeightsFile* overrides) {
  TensorSource t(weights, overrides);
  auto net = std::make_shared<Net>();
  const int stem_channels = t.dim("features.0.0.weight", 0);
  net->stem = load_depthwise(t, "features.0", stem_channels, 3, 2);
  int channels = stem_channels;
  for (int i = 1; i <= static_cast<int>(std::size(kBlocks)); ++i) {
    net->blocks.push_back(load_block(t, i, channels));
    channels = net->blocks.back().projection.linear.outputs;
  }
  const std::string last = fmt::format("features.{}", kLastFeature);
  embedding_ = t.dim(last + ".0.weight", 0);
  net->last = load_conv1x1(t, last, channels, embedding_);
  hidden_ = t.dim("classifier.2.weight", 0);
  net->hidden = load_linear(t, "classifier.2", embedding_, hidden_);
  classes_ = t.dim("classifier.5.weight", 0);
  if (classes_ <= kAudioSetSaxophone)
    throw Error(fmt::format("{}: classifier.5 has {} classes, too few for AudioSet's Saxophone",
                            weights.file().string(), classes_));
  net->classes = load_linear(t, "classifier.5", hidden_, classes_);
  load_saxophone(t, net->classes, net->sax_weight, net->sax_bias);
  t.check_overrides_used();
  net_ = std::move(net);
}

int EfficientAt::steps_of(int frames) {
  // The stem and four blocks halve time, each rounding up.
  for (int i = 0; i < 5; ++i) frames = strided(frames, 2);
  return frames;
}

std::vector<float> EfficientAt::step_embeddings(const Spectrogram& log_mel, int se_frames,
                                                int threads) const {
  if (log_mel.rows != kEfficientAtMels || log_mel.cols < 1)
    throw Error(
        fmt::format("EfficientAT: the log-mel must have {} rows and some columns, not {}x{}",
                    kEfficientAtMels, log_mel.rows, log_mel.cols));
  keep_blas_single_threaded();
  Map x = run_stem(net_->stem, log_mel, threads);
  int frame_stride = 2;
  for (const Block& b : net_->blocks) {
    x = run_block(b, x, se_frames, frame_stride, threads);
    frame_stride *= b.depthwise.stride;
  }
  return step_means(net_->last, x, threads);
}

std::vector<float> EfficientAt::mean_of_steps(const std::vector<float>& steps, int size, int first,
                                              int count) {
  const int available = static_cast<int>(steps.size() / static_cast<size_t>(size));
  if (count < 0) count = available - first;
  if (first < 0 || count < 1 || first + count > available)
    throw Error(fmt::format("EfficientAT: steps [{}, {}) lie outside the {} computed", first,
                            first + count, available));
  std::vector<float> mean(size, 0.0f);
  for (int s = first; s < first + count; ++s)
    for (int i = 0; i < size; ++i) mean[i] += steps[static_cast<size_t>(s) * size + i];
  for (float& v : mean) v /= static_cast<float>(count);
  return mean;
}

std::vector<float> EfficientAt::hidden(const float* embeddings, int n) const {
  keep_blas_single_threaded();
  std::vector<float> h = apply(net_->hidden, embeddings, n);
  activate(h.data(), h.size(), Activation::kHardswish);
  return h;
}

std::vector<float> EfficientAt::logits(const float* embeddings, int n) const {
  const auto h = hidden(embeddings, n);
  return apply(net_->classes, h.data(), n);
}

std::vector<float> EfficientAt::saxophone_logits(const float* embeddings, int n) const {
  const auto h = hidden(embeddings, n);
  std::vector<float> out(n);
  for (int i = 0; i < n; ++i)
    out[i] = net_->sax_bias + cblas_sdot(hidden_, h.data() + static_cast<size_t>(i) * hidden_, 1,
                                         net_->sax_weight.data(), 1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The scorer

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

int frames_of(size_t samples) { return 1 + static_cast<int>((samples - 1) / kEfficientAtHop); }

}  // namespace

EfficientAtScorer::EfficientAtScorer(std::string name, std::shared_ptr<const EfficientAt> net,
                                     double threshold, double step_threshold)
    : name_(std::move(name)),
      net_(std::move(net)),
      threshold_(threshold),
      step_threshold_(step_threshold) {}

double EfficientAtScorer::step_seconds() const {
  return static_cast<double>(kEfficientAtFramesPerStep * kEfficientAtHop) / kEfficientAtRate;
}

int EfficientAtScorer::steps_per_window() const {
  return EfficientAt::steps_of(frames_of(window_samples()));
}

std::vector<float> EfficientAtScorer::score_sliding(const float* audio, size_t count,
                                                    size_t hop_samples) {
  return score(audio, count, hop_samples, nullptr);
}

std::vector<float> EfficientAtScorer::score_sliding_steps(const float* audio, size_t count,
                                                          size_t hop_samples,
                                                          std::vector<float>& steps) {
  return score(audio, count, hop_samples, &steps);
}

std::vector<float> EfficientAtScorer::score(const float* audio, size_t count, size_t hop_samples,
                                            std::vector<float>* steps) const {
  if (steps) steps->clear();
  const size_t window = window_samples();
  if (count < window || hop_samples == 0) return {};
  const int dim = net_->embedding_size(), per_window = steps_per_window();
  // The body runs once over the whole span, its squeeze-excitation gating by the whole span as
  // EfficientAT gates a clip: on real mixes this ranked as well as windows scored one by one,
  // better than gating each place by a window's worth of context.
  const auto embeddings = net_->step_embeddings(efficientat_log_mel(audio, count));
  const int available = static_cast<int>(embeddings.size() / dim);
  const size_t n_windows = (count - window) / hop_samples + 1;
  std::vector<float> pooled;
  std::vector<int> first_step;
  for (size_t i = 0; i < n_windows; ++i) {
    const double start_step =
        static_cast<double>(i * hop_samples) / (kEfficientAtHop * kEfficientAtFramesPerStep);
    const int first = std::clamp(static_cast<int>(std::lround(start_step)), 0,
                                 std::max(0, available - per_window));
    first_step.push_back(first);
    const auto mean =
        EfficientAt::mean_of_steps(embeddings, dim, first, std::min(per_window, available));
    pooled.insert(pooled.end(), mean.begin(), mean.end());
  }
  std::vector<float> p = net_->saxophone_logits(pooled.data(), static_cast<int>(n_windows));
  for (float& v : p) v = sigmoid(v);
  if (steps) {
    const auto step_p = step_probabilities(embeddings);
    for (int first : first_step)
      for (int k = 0; k < per_window; ++k)
        steps->push_back(step_p[std::min(first + k, available - 1)]);
  }
  return p;
}

std::vector<float> EfficientAtScorer::step_probabilities(
    const std::vector<float>& embeddings) const {
  const int dim = net_->embedding_size();
  const int available = static_cast<int>(embeddings.size() / dim);
  std::vector<float> pooled;
  for (int s = 0; s < available; ++s) {
    const int first = std::max(0, s - kStepPoolBefore);
    const int last = std::min(available, s + kStepPoolAfter);
    const auto mean = EfficientAt::mean_of_steps(embeddings, dim, first, last - first);
    pooled.insert(pooled.end(), mean.begin(), mean.end());
  }
  std::vector<float> p = net_->saxophone_logits(pooled.data(), available);
  for (float& v : p) v = sigmoid(v);
  return p;
}

std::vector<float> EfficientAtScorer::score_windows(
    const std::vector<std::vector<float>>& windows) {
  const size_t length = window_samples();
  const int dim = net_->embedding_size();
  std::vector<float> p;
  for (const auto& w : windows) {
    std::vector<float> audio(w.begin(), w.begin() + std::min(w.size(), length));
    audio.resize(length, 0.0f);
    const auto steps = net_->step_embeddings(efficientat_log_mel(audio.data(), audio.size()));
    const auto mean = EfficientAt::mean_of_steps(steps, dim);
    p.push_back(sigmoid(net_->saxophone_logits(mean.data(), 1)[0]));
  }
  return p;
}

namespace {

std::shared_ptr<const EfficientAt> builtin_network() {
  static std::mutex mutex;
  static std::shared_ptr<const EfficientAt> net;
  std::lock_guard lock(mutex);
  if (!net) net = std::make_shared<const EfficientAt>(builtin_efficientat_weights());
  return net;
}

}  // namespace

std::unique_ptr<Scorer> builtin_efficientat_scorer(double threshold, double step_threshold) {
  return std::make_unique<EfficientAtScorer>("efficientat-mn04 (zero-shot)", builtin_network(),
                                             threshold, step_threshold);
}

std::unique_ptr<Scorer> efficientat_scorer(const fs::path& model_dir,
                                           const nlohmann::json& description) {
  const WeightsFile overrides = WeightsFile::read(model_dir / kWeightsFile);
  auto net = std::make_shared<const EfficientAt>(builtin_efficientat_weights(), &overrides);
  const auto threshold = description.at("threshold").get<double>();
  return std::make_unique<EfficientAtScorer>(
      description.value("name", model_dir.filename().string()), std::move(net), threshold,
      description.value("step_threshold", threshold));
}

}  // namespace sax

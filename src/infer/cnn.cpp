#include "infer/cnn.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include <cblas.h>
#include <fmt/format.h>

#include "common/error.h"
#include "infer/numeric.h"

namespace sax {

namespace {

// LibTorch's BatchNorm2d default; the weights file holds only the statistics.
constexpr float kBatchNormEpsilon = 1e-5f;

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

// c = a b for row-major a [m, k], b [k, n], c [m, n]. OpenBLAS clears c for beta 0 with a
// loop that took a tenth of predict's CPU time with the Winograd products; memset and beta 1
// take less than half of that.
void multiply(int m, int n, int k, const float* a, const float* b, float* c) {
  std::memset(c, 0, sizeof(float) * m * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 1.0f, c, n);
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

// Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016): each 2x2 tile of a 3x3 convolution's output comes from the 4x4 input patch around it
// through 16 element-wise products in a transformed space, where im2col's product needs 36. Summed
// over input channels, those are 16 matrix products [out, in] x [in, tiles]. The transforms only
// add and halve. In predict the 3x3 blocks are most of the CNN's work.
constexpr int kWinogradTerms = 16;  // a 4x4 transformed tile

// U = G g G^T of a 3x3 kernel g, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], as the 16 terms.
void winograd_kernel(const float* g, float* u) {
  // G times the three values a, b, c, written `stride` apart.
  auto apply_g = [](float a, float b, float c, float* out, int stride) {
    out[0] = a;
    out[stride] = 0.5f * (a + b + c);
    out[2 * stride] = 0.5f * (a - b + c);
    out[3 * stride] = c;
  };
  float gg[4][3];  // G g, column by column
  for (int j = 0; j < 3; ++j) apply_g(g[j], g[3 + j], g[6 + j], &gg[0][j], 3);
  for (int i = 0; i < 4; ++i) apply_g(gg[i][0], gg[i][1], gg[i][2], u + i * 4, 1);  // (G g) G^T
}

// Weights [out, in, 3, 3] as the 16 matrices [term][out][in] the tile products multiply by.
std::vector<float> winograd_weights(const std::vector<float>& weight, int outputs, int inputs) {
  std::vector<float> transformed(static_cast<size_t>(kWinogradTerms) * outputs * inputs);
  float u[kWinogradTerms];
  for (int o = 0; o < outputs; ++o)
    for (int i = 0; i < inputs; ++i) {
      winograd_kernel(weight.data() + (static_cast<size_t>(o) * inputs + i) * 9, u);
      for (int e = 0; e < kWinogradTerms; ++e)
        transformed[(static_cast<size_t>(e) * outputs + o) * inputs + i] = u[e];
    }
  return transformed;
}

// The loops of the transforms, over consecutive values. `__restrict` tells the compiler the
// arrays do not overlap: without it, it vectorises none of them (too many pairs to check).
// B^T over four rows d0..d3: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3.
void winograd_rows(const float* __restrict d0, const float* __restrict d1,
                   const float* __restrict d2, const float* __restrict d3, int n,
                   float* __restrict t0, float* __restrict t1, float* __restrict t2,
                   float* __restrict t3) {
  for (int x = 0; x < n; ++x) {
    t0[x] = d0[x] - d2[x];
    t1[x] = d1[x] + d2[x];
    t2[x] = d2[x] - d1[x];
    t3[x] = d1[x] - d3[x];
  }
}

// B along a row of tiles, tile tx spanning the columns 2 tx .. 2 tx + 3 (given as the even and
// the odd columns): e0 - e2, e1 + e2, e2 - e1, e1 - e3.
void winograd_columns(const float* __restrict even, const float* __restrict odd, int tiles,
                      float* __restrict v0, float* __restrict v1, float* __restrict v2,
                      float* __restrict v3) {
  for (int tx = 0; tx < tiles; ++tx) {
    v0[tx] = even[tx] - even[tx + 1];
    v1[tx] = odd[tx] + even[tx + 1];
    v2[tx] = even[tx + 1] - odd[tx];
    v3[tx] = odd[tx] - odd[tx + 1];
  }
}

// A^T over four rows of products: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3.
void winograd_sums(const float* __restrict m0, const float* __restrict m1,
                   const float* __restrict m2, const float* __restrict m3, int n,
                   float* __restrict s0, float* __restrict s1) {
  for (int x = 0; x < n; ++x) {
    s0[x] = m0[x] + m1[x] + m2[x];
    s1[x] = m1[x] - m2[x] - m3[x];
  }
}

// A along a row of tiles into an output row: columns 2 tx and 2 tx + 1 of each tile.
void winograd_pairs(const float* __restrict a, const float* __restrict b, const float* __restrict c,
                    const float* __restrict d, int tiles, float* __restrict row) {
  for (int tx = 0; tx < tiles; ++tx) {
    row[2 * tx] = a[tx] + b[tx] + c[tx];
    row[2 * tx + 1] = b[tx] - c[tx] - d[tx];
  }
}

// Where the 2x2 output tiles of a 3x3 convolution (padding 1, so output size = input size) lie,
// and how its input is laid out once padded: a zero border, each row split into its even and
// its odd columns, so that both transforms run over consecutive values.
struct WinogradTiles {
  WinogradTiles(int input_rows, int input_cols)
      : rows(input_rows),
        cols(input_cols),
        tile_rows((rows + 1) / 2),
        tile_cols((cols + 1) / 2),
        half(tile_cols + 1),
        width(2 * half) {}
  size_t tiles() const { return static_cast<size_t>(tile_rows) * tile_cols; }
  size_t padded_plane() const { return static_cast<size_t>(2 * tile_rows + 2) * width; }

  int rows, cols;
  int tile_rows, tile_cols;
  int half, width;  // a padded row: `half` even columns, then `half` odd ones
};

// `input` [channels, rows, cols] into `padded` [channels, padded rows, width]: input column x is
// padded column x + 1, input row y padded row y + 1.
void winograd_pad(const float* input, int channels, const WinogradTiles& t, float* padded) {
  std::fill(padded, padded + channels * t.padded_plane(), 0.0f);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < t.rows; ++y) {
      const float* src = input + (static_cast<size_t>(c) * t.rows + y) * t.cols;
      float* even = padded + c * t.padded_plane() + static_cast<size_t>(y + 1) * t.width;
      float* odd = even + t.half;
      for (int k = 0; 2 * k < t.cols; ++k) odd[k] = src[2 * k];
      for (int k = 0; 2 * k + 1 < t.cols; ++k) even[k + 1] = src[2 * k + 1];
    }
}

// V = B^T d B of the 4x4 patch d around every tile, from `padded`, into `out`
// [term][channel][tile], tiles row by row.
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. `rows_t` holds B^T d of one tile row.
void winograd_inputs(const float* padded, int channels, const WinogradTiles& t, float* rows_t,
                     float* out) {
  const size_t tiles = t.tiles();
  const size_t term = static_cast<size_t>(channels) * tiles;  // between terms in `out`
  for (int c = 0; c < channels; ++c)
    for (int ty = 0; ty < t.tile_rows; ++ty) {
      const float* d0 = padded + c * t.padded_plane() + static_cast<size_t>(2 * ty) * t.width;
      winograd_rows(d0, d0 + t.width, d0 + 2 * t.width, d0 + 3 * t.width, t.width, rows_t,
                    rows_t + t.width, rows_t + 2 * t.width, rows_t + 3 * t.width);
      float* v = out + c * tiles + static_cast<size_t>(ty) * t.tile_cols;
      for (int i = 0; i < 4; ++i) {  // (B^T d) B
        const float* even = rows_t + static_cast<size_t>(i) * t.width;
        float* v0 = v + (4 * i) * term;
        winograd_columns(even, even + t.half, t.tile_cols, v0, v0 + term, v0 + 2 * term,
                         v0 + 3 * term);
      }
    }
}

// Y = A^T m A of every tile from its 16 products `products` [term][channel][tile] into the
// output `out` [channels, rows, cols], leaving out the parts of edge tiles past an odd size.
// A^T = [1 1 1 0; 0 1 -1 -1]. `sums` holds A^T m of one tile row.
void winograd_outputs(const float* products, int channels, const WinogradTiles& t, float* sums,
                      float* out) {
  const size_t tiles = t.tiles();
  const size_t term = static_cast<size_t>(channels) * tiles;
  const int n = t.tile_cols;
  for (int c = 0; c < channels; ++c)
    for (int ty = 0; ty < t.tile_rows; ++ty) {
      const float* m = products + c * tiles + static_cast<size_t>(ty) * n;
      for (int j = 0; j < 4; ++j)
        winograd_sums(m + j * term, m + (4 + j) * term, m + (8 + j) * term, m + (12 + j) * term, n,
                      sums + static_cast<size_t>(j) * n, sums + static_cast<size_t>(4 + j) * n);
      for (int i = 0; i < 2 && 2 * ty + i < t.rows; ++i) {  // (A^T m) A
        const float* a = sums + static_cast<size_t>(4 * i) * n;
        float* row = out + (static_cast<size_t>(c) * t.rows + 2 * ty + i) * t.cols;
        winograd_pairs(a, a + n, a + 2 * n, a + 3 * n, t.cols / 2, row);
        if (t.cols % 2) row[t.cols - 1] = a[n - 1] + a[2 * n - 1] + a[3 * n - 1];
      }
    }
}

// bias, ReLU, then 2x2 pooling (floor) of `conv` [channels, rows, cols] into `out`, or 2x1
// (rows only) when `pool_time` is false. Max pooling takes the maximum first: adding a
// channel's bias and ReLU are monotonic, so that is the same and does a quarter of the work.
// Each case has its own loop without branches, so that the compiler vectorises it.
void bias_relu_pool(const float* conv, const std::vector<float>& bias, int rows, int cols,
                    bool pool_time, bool average, float* out) {
  const int pooled_rows = rows / 2, pooled_cols = pool_time ? cols / 2 : cols;
  for (size_t c = 0; c < bias.size(); ++c) {
    const float b = bias[c];
    auto relu = [b](float v) { return std::max(v + b, 0.0f); };
    const float* plane = conv + c * rows * cols;
    float* dst = out + c * pooled_rows * pooled_cols;
    for (int y = 0; y < pooled_rows; ++y, dst += pooled_cols) {
      const float* r0 = plane + static_cast<size_t>(2 * y) * cols;
      const float* r1 = r0 + cols;
      if (!average && !pool_time)
        for (int x = 0; x < pooled_cols; ++x) dst[x] = relu(std::max(r0[x], r1[x]));
      else if (!average)
        for (int x = 0; x < pooled_cols; ++x)
          dst[x] = relu(
              std::max(std::max(r0[2 * x], r1[2 * x]), std::max(r0[2 * x + 1], r1[2 * x + 1])));
      else if (!pool_time)
        for (int x = 0; x < pooled_cols; ++x) dst[x] = 0.5f * (relu(r0[x]) + relu(r1[x]));
      else
        for (int x = 0; x < pooled_cols; ++x)
          dst[x] = 0.25f * ((relu(r0[2 * x]) + relu(r1[2 * x])) +
                            (relu(r0[2 * x + 1]) + relu(r1[2 * x + 1])));
    }
  }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// tanh through the sigmoid's exp: glibc's tanhf (through expm1f) took 3.7 % of predict's CPU time
// with a GRU, this 1.1 %. It is within about 1e-7 of tanh (relatively less precise near 0).
float fast_tanh(float x) { return 2.0f * sigmoid(2.0f * x) - 1.0f; }

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
  std::vector<float> cols, conv, terms, a, b, hidden, out;
  std::vector<float> padded, tile_row;  // Winograd's padded input, one tile row's transform
  std::vector<float> features;          // [steps, fc_inputs]: each step's input to the head
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
    if (k == 3 && layout.winograd)
      conv.winograd = winograd_weights(conv.weight, conv.out_channels, channels);
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
  float* conv_out = room(work.conv, static_cast<size_t>(conv.out_channels) * plane);
  if (conv.winograd.empty()) {  // any kernel: one product over im2col's columns
    const int fan_in = conv.in_channels * k * k;
    float* columns = room(work.cols, static_cast<size_t>(fan_in) * plane);
    im2col(input, conv.in_channels, conv.in_rows, conv.in_cols, k, conv.out_rows, conv.out_cols,
           columns);
    multiply(conv.out_channels, plane, fan_in, conv.weight.data(), columns, conv_out);
  } else {  // 3x3: Winograd's 16 products over 2x2 tiles
    const int in = conv.in_channels, out = conv.out_channels;
    const WinogradTiles tiles(conv.in_rows, conv.in_cols);
    const int n = static_cast<int>(tiles.tiles());
    float* padded = room(work.padded, in * tiles.padded_plane());
    float* inputs = room(work.cols, static_cast<size_t>(kWinogradTerms) * in * n);
    float* terms = room(work.terms, static_cast<size_t>(kWinogradTerms) * out * n);
    // B^T d of a tile row: 4 padded rows; A^T m: 8 rows of tile_cols, which fit in those.
    float* tile_row = room(work.tile_row, 4 * static_cast<size_t>(tiles.width));
    winograd_pad(input, in, tiles, padded);
    winograd_inputs(padded, in, tiles, tile_row, inputs);
    for (int e = 0; e < kWinogradTerms; ++e)
      multiply(out, n, in, conv.winograd.data() + static_cast<size_t>(e) * out * in,
               inputs + static_cast<size_t>(e) * in * n, terms + static_cast<size_t>(e) * out * n);
    winograd_outputs(terms, out, tiles, tile_row, conv_out);
  }
  bias_relu_pool(conv_out, conv.bias, conv.out_rows, conv.out_cols, conv.pool_time,
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
        const float n = fast_tanh(x[2 * units + j] + r * h[2 * units + j]);
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

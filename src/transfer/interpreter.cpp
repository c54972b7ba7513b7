#include "transfer/interpreter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include "common/error.h"

namespace sax::tflite {

namespace {

int64_t count(const std::vector<int32_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

// Row-major strides (in elements) of `shape`.
std::vector<int64_t> strides(const std::vector<int32_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

std::vector<int32_t> as_ints(const Array& a) {
  std::vector<int32_t> out(a.values.size());
  std::transform(a.values.begin(), a.values.end(), out.begin(),
                 [](float v) { return static_cast<int32_t>(std::lround(v)); });
  return out;
}

float activate(float x, Activation activation) {
  switch (activation) {
    case Activation::none:
      return x;
    case Activation::relu:
      return std::max(x, 0.0f);
    case Activation::relu_n1_to_1:
      return std::clamp(x, -1.0f, 1.0f);
    case Activation::relu6:
      return std::clamp(x, 0.0f, 6.0f);
    case Activation::tanh:
      return std::tanh(x);
  }
  throw Error("unknown fused activation " + std::to_string(static_cast<int>(activation)));
}

// Calls visit(out_index, in_offset) for every element of the box of `box_shape` whose axis d
// starts at begin[d] and steps by step[d] inside an array of `in_shape`.
void for_each_in_box(const std::vector<int32_t>& in_shape, const std::vector<int32_t>& box_shape,
                     const std::vector<int32_t>& begin, const std::vector<int32_t>& step,
                     const std::function<void(int64_t, int64_t)>& visit) {
  const auto in_strides = strides(in_shape);
  const auto rank = box_shape.size();
  std::vector<int32_t> position(rank, 0);
  const int64_t total = count(box_shape);
  for (int64_t out = 0; out < total; ++out) {
    int64_t offset = 0;
    for (size_t d = 0; d < rank; ++d)
      offset += (begin[d] + static_cast<int64_t>(position[d]) * step[d]) * in_strides[d];
    visit(out, offset);
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++position[d] < box_shape[d]) break;
      position[d] = 0;
    }
  }
}

Array take_box(const Array& in, const std::vector<int32_t>& box_shape,
               const std::vector<int32_t>& begin, const std::vector<int32_t>& step) {
  Array out{box_shape, std::vector<float>(count(box_shape))};
  for_each_in_box(in.shape, box_shape, begin, step,
                  [&](int64_t o, int64_t i) { out.values[o] = in.values[i]; });
  return out;
}

Array reshape(const Array& in, std::vector<int32_t> shape) {
  const auto unknown = std::find(shape.begin(), shape.end(), -1);
  if (unknown != shape.end()) {
    *unknown = 1;
    *unknown = static_cast<int32_t>(count(in.shape) / count(shape));
  }
  if (count(shape) != count(in.shape)) throw Error("RESHAPE: element count changes");
  return Array{shape, in.values};
}

Array slice(const Array& in, const std::vector<int32_t>& begin, std::vector<int32_t> size) {
  for (size_t d = 0; d < size.size(); ++d)
    if (size[d] < 0) size[d] = in.shape[d] - begin[d];
  return take_box(in, size, begin, std::vector<int32_t>(size.size(), 1));
}

Array strided_slice(const Array& in, const std::vector<int32_t>& begin_in,
                    const std::vector<int32_t>& end_in, const std::vector<int32_t>& step,
                    const Options& o) {
  if (o.ellipsis_mask || o.new_axis_mask)
    throw Error("STRIDED_SLICE: ellipsis and new-axis masks are not supported");
  const size_t rank = in.shape.size();
  std::vector<int32_t> begin(rank), box(rank);
  std::vector<int32_t> kept_shape;
  for (size_t d = 0; d < rank; ++d) {
    const int32_t n = in.shape[d];
    auto wrap = [n](int32_t i) { return i < 0 ? i + n : i; };
    const bool forward = step[d] > 0;
    int32_t b = (o.begin_mask >> d) & 1 ? (forward ? 0 : n - 1) : wrap(begin_in[d]);
    int32_t e = (o.end_mask >> d) & 1 ? (forward ? n : -1) : wrap(end_in[d]);
    if ((o.shrink_axis_mask >> d) & 1) e = b + 1;
    b = std::clamp(b, 0, n);
    e = std::clamp(e, -1, n);
    begin[d] = b;
    box[d] =
        std::max(0, forward ? (e - b + step[d] - 1) / step[d] : (b - e - step[d] - 1) / -step[d]);
    if (!((o.shrink_axis_mask >> d) & 1)) kept_shape.push_back(box[d]);
  }
  Array out = take_box(in, box, begin, step);
  out.shape = kept_shape;
  return out;
}

Array gather(const Array& params, const Array& indices, int32_t axis) {
  if (axis < 0) axis += static_cast<int32_t>(params.shape.size());
  std::vector<int32_t> shape(params.shape.begin(), params.shape.begin() + axis);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), params.shape.begin() + axis + 1, params.shape.end());
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; ++d) outer *= params.shape[d];
  for (size_t d = axis + 1; d < params.shape.size(); ++d) inner *= params.shape[d];
  const auto index = as_ints(indices);
  Array out{shape, {}};
  out.values.reserve(count(shape));
  for (int64_t o = 0; o < outer; ++o)
    for (int32_t i : index) {
      if (i < 0 || i >= params.shape[axis]) throw Error("GATHER: index out of range");
      const auto first = params.values.begin() + (o * params.shape[axis] + i) * inner;
      out.values.insert(out.values.end(), first, first + inner);
    }
  return out;
}

Array pad(const Array& in, const std::vector<int32_t>& paddings) {
  const size_t rank = in.shape.size();
  std::vector<int32_t> shape(rank), begin(rank);
  for (size_t d = 0; d < rank; ++d) {
    begin[d] = paddings[2 * d];
    shape[d] = in.shape[d] + paddings[2 * d] + paddings[2 * d + 1];
  }
  Array out{shape, std::vector<float>(count(shape), 0.0f)};
  // The input is the box at `begin` inside the output: copy it there.
  for_each_in_box(shape, in.shape, begin, std::vector<int32_t>(rank, 1),
                  [&](int64_t i, int64_t o) { out.values[o] = in.values[i]; });
  return out;
}

// Element-wise binary operator with NumPy broadcasting.
Array broadcast(const Array& a, const Array& b, const std::function<float(float, float)>& f,
                Activation activation) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  auto padded = [rank](const std::vector<int32_t>& s) {
    std::vector<int32_t> p(rank - s.size(), 1);
    p.insert(p.end(), s.begin(), s.end());
    return p;
  };
  const auto sa = padded(a.shape), sb = padded(b.shape);
  std::vector<int32_t> shape(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1) throw Error("shapes do not broadcast");
    shape[d] = std::max(sa[d], sb[d]);
  }
  const auto ta = strides(sa), tb = strides(sb);
  Array out{shape, std::vector<float>(count(shape))};
  std::vector<int32_t> position(rank, 0);
  for (auto& value : out.values) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      if (sa[d] > 1) ia += position[d] * ta[d];
      if (sb[d] > 1) ib += position[d] * tb[d];
    }
    value = activate(f(a.values[ia], b.values[ib]), activation);
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++position[d] < shape[d]) break;
      position[d] = 0;
    }
  }
  return out;
}

Array unary(const Array& in, float (*f)(float)) {
  Array out = in;
  for (auto& v : out.values) v = f(v);
  return out;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// FULLY_CONNECTED: weights [units, depth]; the input is read as rows of `depth` values.
Array fully_connected(const Array& in, const Array& weights, const Array* bias, const Options& o) {
  const int32_t units = weights.shape[0], depth = weights.shape[1];
  const int64_t rows = count(in.shape) / depth;
  std::vector<int32_t> shape = {static_cast<int32_t>(rows), units};
  if (o.keep_dims) {
    shape.assign(in.shape.begin(), in.shape.end() - 1);
    shape.push_back(units);
  }
  Array out{shape, std::vector<float>(rows * units)};
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t u = 0; u < units; ++u) {
      double sum = bias ? bias->values[u] : 0.0;
      for (int32_t k = 0; k < depth; ++k)
        sum += static_cast<double>(in.values[r * depth + k]) * weights.values[u * depth + k];
      out.values[r * units + u] = activate(static_cast<float>(sum), o.activation);
    }
  return out;
}

// TFLite's SAME padding puts the odd pixel at the end; VALID uses none.
int32_t out_size(int32_t in, int32_t kernel, int32_t stride, int32_t dilation, Padding p) {
  const int32_t effective = (kernel - 1) * dilation + 1;
  return p == Padding::same ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}
int32_t pad_before(int32_t in, int32_t out, int32_t kernel, int32_t stride, int32_t dilation,
                   Padding p) {
  if (p == Padding::valid) return 0;
  const int32_t effective = (kernel - 1) * dilation + 1;
  return std::max(0, (out - 1) * stride + effective - in) / 2;
}

// CONV_2D (weights [out, kh, kw, in]) and DEPTHWISE_CONV_2D (weights [1, kh, kw, in * mult])
// over NHWC input: one loop nest, `depthwise` selects which input channel feeds an output.
Array convolve(const Array& in, const Array& weights, const Array* bias, const Options& o,
               bool depthwise) {
  const int32_t batch = in.shape[0], height = in.shape[1], width = in.shape[2],
                channels = in.shape[3];
  const int32_t kh = weights.shape[1], kw = weights.shape[2];
  const int32_t outputs = depthwise ? weights.shape[3] : weights.shape[0];
  const int32_t multiplier = depthwise ? outputs / channels : 1;
  const int32_t oh = out_size(height, kh, o.stride_h, o.dilation_h, o.padding);
  const int32_t ow = out_size(width, kw, o.stride_w, o.dilation_w, o.padding);
  const int32_t top = pad_before(height, oh, kh, o.stride_h, o.dilation_h, o.padding);
  const int32_t left = pad_before(width, ow, kw, o.stride_w, o.dilation_w, o.padding);
  Array out{{batch, oh, ow, outputs}, std::vector<float>(int64_t{batch} * oh * ow * outputs)};
  for (int32_t n = 0; n < batch; ++n)
    for (int32_t y = 0; y < oh; ++y)
      for (int32_t x = 0; x < ow; ++x)
        for (int32_t c = 0; c < outputs; ++c) {
          double sum = bias ? bias->values[c] : 0.0;
          for (int32_t i = 0; i < kh; ++i)
            for (int32_t j = 0; j < kw; ++j) {
              const int32_t iy = y * o.stride_h - top + i * o.dilation_h;
              const int32_t ix = x * o.stride_w - left + j * o.dilation_w;
              if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
              const float* pixel = &in.values[((int64_t{n} * height + iy) * width + ix) * channels];
              if (depthwise) {
                sum += static_cast<double>(pixel[c / multiplier]) *
                       weights.values[(int64_t{i} * kw + j) * outputs + c];
              } else {
                const float* w = &weights.values[((int64_t{c} * kh + i) * kw + j) * channels];
                for (int32_t k = 0; k < channels; ++k) sum += static_cast<double>(pixel[k]) * w[k];
              }
            }
          out.values[((int64_t{n} * oh + y) * ow + x) * outputs + c] =
              activate(static_cast<float>(sum), o.activation);
        }
  return out;
}

Array mean(const Array& in, std::vector<int32_t> axes, bool keep_dims) {
  const size_t rank = in.shape.size();
  for (auto& a : axes)
    if (a < 0) a += static_cast<int32_t>(rank);
  auto reduced = [&](size_t d) { return std::find(axes.begin(), axes.end(), d) != axes.end(); };
  std::vector<int32_t> shape, kept;
  for (size_t d = 0; d < rank; ++d) {
    kept.push_back(reduced(d) ? 1 : in.shape[d]);
    if (!reduced(d)) shape.push_back(in.shape[d]);
  }
  const auto out_strides = strides(kept);
  std::vector<double> sums(count(kept), 0.0);
  std::vector<int32_t> position(rank, 0);
  for (float v : in.values) {
    int64_t o = 0;
    for (size_t d = 0; d < rank; ++d)
      if (!reduced(d)) o += position[d] * out_strides[d];
    sums[o] += v;
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      if (++position[d] < in.shape[d]) break;
      position[d] = 0;
    }
  }
  const double n = static_cast<double>(count(in.shape)) / static_cast<double>(sums.size());
  Array out{keep_dims ? kept : shape, std::vector<float>(sums.size())};
  for (size_t i = 0; i < sums.size(); ++i) out.values[i] = static_cast<float>(sums[i] / n);
  return out;
}

}  // namespace

Interpreter::Interpreter(const Model& model) : model_(model), constants_(model.tensors.size()) {
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const auto& tensor = model.tensors[i];
    if (model.data(tensor).empty()) continue;
    constants_[i] = Array{tensor.shape, dequantize(model, tensor)};
  }
}

std::vector<Array> Interpreter::run(const std::vector<Array>& inputs) const {
  if (inputs.size() != model_.inputs.size())
    throw Error("model takes " + std::to_string(model_.inputs.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  std::vector<Array> values = constants_;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& tensor = model_.tensors[model_.inputs[i]];
    if (static_cast<int64_t>(inputs[i].values.size()) != tensor.elements())
      throw Error("input " + tensor.name + " needs " + std::to_string(tensor.elements()) +
                  " values, got " + std::to_string(inputs[i].values.size()));
    values[model_.inputs[i]] = Array{tensor.shape, inputs[i].values};
  }
  for (const auto& o : model_.operators) {
    auto in = [&](size_t k) -> const Array& { return values.at(o.inputs.at(k)); };
    auto optional = [&](size_t k) -> const Array* {
      return k < o.inputs.size() && o.inputs[k] >= 0 ? &values[o.inputs[k]] : nullptr;
    };
    Array result;
    switch (o.opcode) {
      case op::reshape:
        result = reshape(in(0), optional(1) ? as_ints(in(1)) : o.options.new_shape);
        break;
      case op::slice:
        result = slice(in(0), as_ints(in(1)), as_ints(in(2)));
        break;
      case op::strided_slice:
        result = strided_slice(in(0), as_ints(in(1)), as_ints(in(2)), as_ints(in(3)), o.options);
        break;
      case op::gather:
        result = gather(in(0), in(1), o.options.axis);
        break;
      case op::pad:
        result = pad(in(0), as_ints(in(1)));
        break;
      case op::mul:
        result = broadcast(in(0), in(1), std::multiplies<float>(), o.options.activation);
        break;
      case op::add:
        result = broadcast(in(0), in(1), std::plus<float>(), o.options.activation);
        break;
      case op::sqrt:
        result = unary(in(0), [](float x) { return std::sqrt(x); });
        break;
      case op::log:
        result = unary(in(0), [](float x) { return std::log(x); });
        break;
      case op::logistic:
        result = unary(in(0), sigmoid);
        break;
      case op::dequantize:
        result = in(0);
        break;  // constants are dequantized on load
      case op::fully_connected:
        result = fully_connected(in(0), in(1), optional(2), o.options);
        break;
      case op::conv_2d:
        result = convolve(in(0), in(1), optional(2), o.options, false);
        break;
      case op::depthwise_conv_2d:
        result = convolve(in(0), in(1), optional(2), o.options, true);
        break;
      case op::mean:
        result = mean(in(0), as_ints(in(1)), o.options.keep_dims);
        break;
      default:
        throw Error("reference interpreter cannot run " + op_name(o.opcode));
    }
    values.at(o.outputs.at(0)) = std::move(result);
  }
  return values;
}

}  // namespace sax::tflite

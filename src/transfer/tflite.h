#pragma once
// A reader for TensorFlow Lite model files (the flatbuffer schema "TFL3"), enough to import
// YAMNet: tensors, buffers, operators in execution order with their builtin options, and
// dequantization of int8/uint8 weights with per-tensor or per-channel scales.
//
//   auto model = sax::tflite::read_model("yamnet.tflite");
//   for (const auto& op : model.operators) fmt::print("{}\n", sax::tflite::op_name(op.opcode));
//   std::vector<float> w = sax::tflite::dequantize(model, model.tensors[3]);
//
// Only the main subgraph (subgraph 0) is read. Every table is verified before it is read, so
// a truncated or corrupt file gives a sax::Error naming the file, never a crash.
// No LibTorch here: the CLI and the model's importer both use this.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sax::tflite {

// Values of the schema's TensorType enum.
enum class TensorType : int8_t {
  float32 = 0,
  float16 = 1,
  int32 = 2,
  uint8 = 3,
  int64 = 4,
  string = 5,
  boolean = 6,
  int16 = 7,
  complex64 = 8,
  int8 = 9,
  float64 = 10,
};
std::string_view type_name(TensorType type);

// Values of the schema's BuiltinOperator enum for the operators this project interprets.
namespace op {
constexpr int32_t add = 0, average_pool_2d = 1, concatenation = 2, conv_2d = 3,
                  depthwise_conv_2d = 4, dequantize = 6, gather = 36, fully_connected = 9,
                  logistic = 14, max_pool_2d = 17, mul = 18, relu = 19, relu6 = 21, reshape = 22,
                  softmax = 25, pad = 34, transpose = 39, mean = 40, sub = 41, squeeze = 43,
                  strided_slice = 45, exp = 47, log = 73, sum = 74, sqrt = 75, rsqrt = 76,
                  shape = 77, pack = 83, maximum = 55, minimum = 57, slice = 65, expand_dims = 70,
                  square = 92, abs = 101, batch_matmul = 126, rfft2d = 131, complex_abs = 135;
}  // namespace op
// "CONV_2D" for the operators above, "BUILTIN_<n>" for the rest.
std::string op_name(int32_t opcode);

struct Quantization {
  std::vector<float> scale;         // one per tensor, or one per channel
  std::vector<int64_t> zero_point;  // same length as scale
  int32_t quantized_dimension = 0;  // the channel axis when per-channel
};

struct Tensor {
  std::string name;
  std::vector<int32_t> shape;
  TensorType type = TensorType::float32;
  uint32_t buffer = 0;  // index into Model::buffers; an empty buffer means "computed at run time"
  Quantization quantization;

  int64_t elements() const;  // product of shape (1 for a scalar)
};

enum class Padding : int8_t { same = 0, valid = 1 };
enum class Activation : int8_t { none = 0, relu = 1, relu_n1_to_1 = 2, relu6 = 3, tanh = 4 };

// The builtin options this project uses, flattened: each operator fills the fields its
// options table has and leaves the others at the schema defaults.
struct Options {
  Padding padding = Padding::same;  // CONV_2D, DEPTHWISE_CONV_2D, pools
  int32_t stride_w = 1, stride_h = 1;
  int32_t dilation_w = 1, dilation_h = 1;
  int32_t filter_w = 1, filter_h = 1;  // pools
  int32_t depth_multiplier = 1;        // DEPTHWISE_CONV_2D
  Activation activation = Activation::none;
  bool keep_dims = false;                // MEAN, SUM, FULLY_CONNECTED
  std::vector<int32_t> new_shape;        // RESHAPE (may also come from a second input)
  int32_t begin_mask = 0, end_mask = 0;  // STRIDED_SLICE
  int32_t shrink_axis_mask = 0, ellipsis_mask = 0, new_axis_mask = 0;
  int32_t axis = 0, values_count = 0;  // CONCATENATION, PACK, GATHER
  std::vector<int32_t> squeeze_dims;   // SQUEEZE
  bool adj_x = false, adj_y = false;   // BATCH_MATMUL
};

struct Operator {
  int32_t opcode = 0;                    // BuiltinOperator value (op:: constants)
  std::string custom_code;               // for CUSTOM operators
  std::vector<int32_t> inputs, outputs;  // tensor indices; -1 marks an omitted optional input
  Options options;
};

struct Model {
  uint32_t version = 0;
  std::string description;
  std::vector<Tensor> tensors;
  std::vector<Operator> operators;  // in execution order
  std::vector<int32_t> inputs, outputs;
  std::vector<std::vector<uint8_t>> buffers;

  const std::vector<uint8_t>& data(
      const Tensor& tensor) const;                    // its constant bytes (may be empty)
  int32_t tensor_index(std::string_view name) const;  // throws sax::Error when absent
};

// Throws sax::Error("<path>: ...") for a missing, truncated or corrupt file.
Model read_model(const std::filesystem::path& path);
// `origin` names the data in error messages.
Model parse_model(const uint8_t* data, size_t size, const std::string& origin);

// The constant values of `tensor` as floats: float32 copied, int8/uint8/int16 dequantized as
// scale[c] * (q - zero_point[c]) with c the index along quantized_dimension (or a single
// scale), int32 converted. Throws sax::Error when the tensor has no constant data.
std::vector<float> dequantize(const Model& model, const Tensor& tensor);

// Checks `file` against the SHA256SUMS file beside it ("<hex>  <name>" lines), when there is
// one that lists it. Throws sax::Error naming the file when the content differs.
void check_sha256sums(const std::filesystem::path& file);

}  // namespace sax::tflite

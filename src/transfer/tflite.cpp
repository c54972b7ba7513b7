#include "transfer/tflite.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "common/hash.h"

namespace sax::tflite {

namespace {

namespace fb = flatbuffers;

// Field numbers of the schema tables we read (a field's vtable slot is 4 + 2 * number).
namespace model_field {
constexpr int version = 0, operator_codes = 1, subgraphs = 2, description = 3, buffers = 4;
}
namespace opcode_field {
constexpr int deprecated_builtin_code = 0, custom_code = 1, builtin_code = 3;
}
namespace subgraph_field {
constexpr int tensors = 0, inputs = 1, outputs = 2, operators = 3;
}
namespace tensor_field {
constexpr int shape = 0, type = 1, buffer = 2, name = 3, quantization = 4;
}
namespace quant_field {
constexpr int scale = 2, zero_point = 3, quantized_dimension = 6;
}
namespace operator_field {
constexpr int opcode_index = 0, inputs = 1, outputs = 2, options = 4;
}
constexpr int buffer_data_field = 0;

// The file being parsed: its bytes, the verifier over them, and its name for messages.
struct Source {
  const uint8_t* data;
  fb::Verifier verifier;
  std::string origin;
};

// A verified view of one flatbuffer table: every accessor checks bounds before reading, and
// a failed check throws sax::Error naming the file and the table.
class View {
 public:
  View(const fb::Table* table, Source* source, std::string what)
      : table_(table), source_(source), what_(std::move(what)) {
    check(table_->VerifyTableStart(source_->verifier), "table");
    source_->verifier.EndTable();  // the schema is not recursive: depth tracking is not needed
  }

  template <typename T>
  T scalar(int field, T fallback) const {
    check(table_->VerifyField<T>(source_->verifier, slot(field), sizeof(T)), "field");
    return table_->GetField<T>(slot(field), fallback);
  }

  template <typename T>
  std::vector<T> vector(int field) const {
    const auto* vec = pointer<fb::Vector<T>>(field);
    check(source_->verifier.VerifyVector(vec), "vector");
    if (!vec) return {};
    return std::vector<T>(vec->begin(), vec->end());
  }

  std::string string(int field) const {
    const auto* str = pointer<fb::String>(field);
    check(source_->verifier.VerifyString(str), "string");
    return str ? str->str() : std::string();
  }

  std::optional<View> table(int field, const std::string& what) const {
    const auto* sub = pointer<fb::Table>(field);
    if (!sub) return std::nullopt;
    return View(sub, source_, what);
  }

  std::vector<View> tables(int field, const std::string& what) const {
    const auto* vec = pointer<fb::Vector<fb::Offset<fb::Table>>>(field);
    check(source_->verifier.VerifyVector(vec), "vector");
    std::vector<View> views;
    if (!vec) return views;
    views.reserve(vec->size());
    for (fb::uoffset_t i = 0; i < vec->size(); ++i) {
      // Each element is an offset: check it points inside the file before following it.
      const auto* element =
          reinterpret_cast<const uint8_t*>(vec->Data()) + i * sizeof(fb::uoffset_t);
      check(source_->verifier.VerifyOffset(static_cast<size_t>(element - source_->data)) != 0,
            "offset");
      views.emplace_back(vec->Get(i), source_, what + " " + std::to_string(i));
    }
    return views;
  }

  void check(bool ok, const char* part) const {
    if (!ok)
      throw Error(source_->origin + ": corrupt or truncated TFLite file (bad " + part + " in " +
                  what_ + ")");
  }

 private:
  static fb::voffset_t slot(int field) { return static_cast<fb::voffset_t>(4 + 2 * field); }

  template <typename T>
  const T* pointer(int field) const {
    check(table_->VerifyOffset(source_->verifier, slot(field)), "offset");
    return table_->GetPointer<const T*>(slot(field));
  }

  const fb::Table* table_;
  Source* source_;
  std::string what_;
};

int32_t read_opcode(const View& code) {
  // Old files only have the byte-sized code; newer ones put codes >= 127 in builtin_code.
  const auto old_code = code.scalar<int8_t>(opcode_field::deprecated_builtin_code, 0);
  const auto new_code = code.scalar<int32_t>(opcode_field::builtin_code, 0);
  return std::max<int32_t>(old_code, new_code);
}

Quantization read_quantization(const View& table) {
  Quantization q;
  q.scale = table.vector<float>(quant_field::scale);
  q.zero_point = table.vector<int64_t>(quant_field::zero_point);
  q.quantized_dimension = table.scalar<int32_t>(quant_field::quantized_dimension, 0);
  if (q.zero_point.empty()) q.zero_point.assign(q.scale.size(), 0);
  table.check(q.zero_point.size() == q.scale.size(), "zero_point count");
  return q;
}

Tensor read_tensor(const View& table) {
  Tensor t;
  t.shape = table.vector<int32_t>(tensor_field::shape);
  t.type = static_cast<TensorType>(table.scalar<int8_t>(tensor_field::type, 0));
  t.buffer = table.scalar<uint32_t>(tensor_field::buffer, 0);
  t.name = table.string(tensor_field::name);
  if (auto q = table.table(tensor_field::quantization, "quantization of " + t.name))
    t.quantization = read_quantization(*q);
  return t;
}

Activation read_activation(const View& options, int field) {
  return static_cast<Activation>(options.scalar<int8_t>(field, 0));
}

// Reads the builtin options table of `opcode` (the union's type follows from the opcode).
Options read_options(int32_t opcode, const View& t) {
  Options o;
  switch (opcode) {
    case op::conv_2d:
      o.padding = static_cast<Padding>(t.scalar<int8_t>(0, 0));
      o.stride_w = t.scalar<int32_t>(1, 0);
      o.stride_h = t.scalar<int32_t>(2, 0);
      o.activation = read_activation(t, 3);
      o.dilation_w = t.scalar<int32_t>(4, 1);
      o.dilation_h = t.scalar<int32_t>(5, 1);
      break;
    case op::depthwise_conv_2d:
      o.padding = static_cast<Padding>(t.scalar<int8_t>(0, 0));
      o.stride_w = t.scalar<int32_t>(1, 0);
      o.stride_h = t.scalar<int32_t>(2, 0);
      o.depth_multiplier = t.scalar<int32_t>(3, 0);
      o.activation = read_activation(t, 4);
      o.dilation_w = t.scalar<int32_t>(5, 1);
      o.dilation_h = t.scalar<int32_t>(6, 1);
      break;
    case op::average_pool_2d:
    case op::max_pool_2d:
      o.padding = static_cast<Padding>(t.scalar<int8_t>(0, 0));
      o.stride_w = t.scalar<int32_t>(1, 0);
      o.stride_h = t.scalar<int32_t>(2, 0);
      o.filter_w = t.scalar<int32_t>(3, 0);
      o.filter_h = t.scalar<int32_t>(4, 0);
      o.activation = read_activation(t, 5);
      break;
    case op::fully_connected:
      o.activation = read_activation(t, 0);
      o.keep_dims = t.scalar<uint8_t>(2, 0) != 0;
      break;
    case op::add:
    case op::sub:
    case op::mul:
      o.activation = read_activation(t, 0);
      break;
    case op::reshape:
      o.new_shape = t.vector<int32_t>(0);
      break;
    case op::mean:
    case op::sum:
      o.keep_dims = t.scalar<uint8_t>(0, 0) != 0;
      break;
    case op::strided_slice:
      o.begin_mask = t.scalar<int32_t>(0, 0);
      o.end_mask = t.scalar<int32_t>(1, 0);
      o.ellipsis_mask = t.scalar<int32_t>(2, 0);
      o.new_axis_mask = t.scalar<int32_t>(3, 0);
      o.shrink_axis_mask = t.scalar<int32_t>(4, 0);
      break;
    case op::concatenation:
      o.axis = t.scalar<int32_t>(0, 0);
      o.activation = read_activation(t, 1);
      break;
    case op::pack:
      o.values_count = t.scalar<int32_t>(0, 0);
      o.axis = t.scalar<int32_t>(1, 0);
      break;
    case op::gather:
      o.axis = t.scalar<int32_t>(0, 0);
      break;
    case op::squeeze:
      o.squeeze_dims = t.vector<int32_t>(0);
      break;
    case op::batch_matmul:
      o.adj_x = t.scalar<uint8_t>(0, 0) != 0;
      o.adj_y = t.scalar<uint8_t>(1, 0) != 0;
      break;
    default:
      break;  // options we do not interpret
  }
  return o;
}

Operator read_operator(const View& table, const std::vector<int32_t>& opcodes,
                       const std::vector<std::string>& custom_codes) {
  Operator o;
  const auto index = table.scalar<uint32_t>(operator_field::opcode_index, 0);
  table.check(index < opcodes.size(), "opcode_index");
  o.opcode = opcodes[index];
  o.custom_code = custom_codes[index];
  o.inputs = table.vector<int32_t>(operator_field::inputs);
  o.outputs = table.vector<int32_t>(operator_field::outputs);
  if (auto options = table.table(operator_field::options, "options of " + op_name(o.opcode)))
    o.options = read_options(o.opcode, *options);
  return o;
}

// Every tensor reference must name a tensor, every tensor a buffer.
void check_references(const Model& model, const std::string& origin) {
  const auto tensor_count = static_cast<int32_t>(model.tensors.size());
  auto check_index = [&](int32_t index, bool optional) {
    if ((optional && index == -1) || (index >= 0 && index < tensor_count)) return;
    throw Error(origin + ": corrupt TFLite file (tensor index " + std::to_string(index) +
                " out of range)");
  };
  for (const auto& o : model.operators) {
    for (auto i : o.inputs) check_index(i, true);
    for (auto i : o.outputs) check_index(i, false);
  }
  for (auto i : model.inputs) check_index(i, false);
  for (auto i : model.outputs) check_index(i, false);
  for (const auto& t : model.tensors)
    if (t.buffer >= model.buffers.size())
      throw Error(origin + ": corrupt TFLite file (tensor " + t.name + " has buffer " +
                  std::to_string(t.buffer) + " of " + std::to_string(model.buffers.size()) + ")");
}

size_t type_size(TensorType type) {
  switch (type) {
    case TensorType::float32:
    case TensorType::int32:
      return 4;
    case TensorType::int64:
    case TensorType::float64:
    case TensorType::complex64:
      return 8;
    case TensorType::float16:
    case TensorType::int16:
      return 2;
    default:
      return 1;
  }
}

template <typename T>
T load(const uint8_t* bytes, size_t index) {
  T value;
  std::memcpy(&value, bytes + index * sizeof(T), sizeof(T));
  return value;
}

// Size of one step along `axis` and the number of elements per channel: index / stride % n.
int64_t axis_stride(const std::vector<int32_t>& shape, int32_t axis) {
  int64_t stride = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) stride *= shape[d];
  return stride;
}

}  // namespace

std::string_view type_name(TensorType type) {
  static const char* const names[] = {"float32",   "float16", "int32",  "uint8",
                                      "int64",     "string",  "bool",   "int16",
                                      "complex64", "int8",    "float64"};
  const auto i = static_cast<int>(type);
  return i >= 0 && i < 11 ? names[i] : "unknown";
}

std::string op_name(int32_t opcode) {
  static const std::map<int32_t, const char*> names = {
      {op::add, "ADD"},
      {op::average_pool_2d, "AVERAGE_POOL_2D"},
      {op::concatenation, "CONCATENATION"},
      {op::conv_2d, "CONV_2D"},
      {op::depthwise_conv_2d, "DEPTHWISE_CONV_2D"},
      {op::dequantize, "DEQUANTIZE"},
      {op::gather, "GATHER"},
      {op::fully_connected, "FULLY_CONNECTED"},
      {op::logistic, "LOGISTIC"},
      {op::max_pool_2d, "MAX_POOL_2D"},
      {op::mul, "MUL"},
      {op::relu, "RELU"},
      {op::relu6, "RELU6"},
      {op::reshape, "RESHAPE"},
      {op::softmax, "SOFTMAX"},
      {op::pad, "PAD"},
      {op::transpose, "TRANSPOSE"},
      {op::mean, "MEAN"},
      {op::sub, "SUB"},
      {op::squeeze, "SQUEEZE"},
      {op::strided_slice, "STRIDED_SLICE"},
      {op::exp, "EXP"},
      {op::log, "LOG"},
      {op::sum, "SUM"},
      {op::sqrt, "SQRT"},
      {op::rsqrt, "RSQRT"},
      {op::shape, "SHAPE"},
      {op::pack, "PACK"},
      {op::maximum, "MAXIMUM"},
      {op::minimum, "MINIMUM"},
      {op::slice, "SLICE"},
      {op::expand_dims, "EXPAND_DIMS"},
      {op::square, "SQUARE"},
      {op::abs, "ABS"},
      {op::batch_matmul, "BATCH_MATMUL"},
      {op::rfft2d, "RFFT2D"},
      {op::complex_abs, "COMPLEX_ABS"},
  };
  auto it = names.find(opcode);
  return it != names.end() ? it->second : "BUILTIN_" + std::to_string(opcode);
}

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const std::vector<uint8_t>& Model::data(const Tensor& tensor) const {
  return buffers.at(tensor.buffer);
}

int32_t Model::tensor_index(std::string_view name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return static_cast<int32_t>(i);
  throw Error("TFLite model has no tensor named " + std::string(name));
}

Model parse_model(const uint8_t* data, size_t size, const std::string& origin) {
  if (size < 16 || !fb::BufferHasIdentifier(data, "TFL3"))
    throw Error(origin + ": not a TFLite model (no TFL3 identifier)");
  Source source{data, fb::Verifier(data, size), origin};
  const auto root_offset = source.verifier.VerifyOffset(0);
  if (!root_offset) throw Error(origin + ": corrupt or truncated TFLite file (bad root offset)");
  View root(reinterpret_cast<const fb::Table*>(data + root_offset), &source, "model");

  Model model;
  model.version = root.scalar<uint32_t>(model_field::version, 0);
  model.description = root.string(model_field::description);
  std::vector<int32_t> opcodes;
  std::vector<std::string> custom_codes;
  for (const auto& code : root.tables(model_field::operator_codes, "operator code")) {
    opcodes.push_back(read_opcode(code));
    custom_codes.push_back(code.string(opcode_field::custom_code));
  }
  for (const auto& buffer : root.tables(model_field::buffers, "buffer"))
    model.buffers.push_back(buffer.vector<uint8_t>(buffer_data_field));

  const auto subgraphs = root.tables(model_field::subgraphs, "subgraph");
  if (subgraphs.empty()) throw Error(origin + ": TFLite file has no subgraph");
  const View& main = subgraphs.front();
  for (const auto& tensor : main.tables(subgraph_field::tensors, "tensor"))
    model.tensors.push_back(read_tensor(tensor));
  for (const auto& op : main.tables(subgraph_field::operators, "operator"))
    model.operators.push_back(read_operator(op, opcodes, custom_codes));
  model.inputs = main.vector<int32_t>(subgraph_field::inputs);
  model.outputs = main.vector<int32_t>(subgraph_field::outputs);
  check_references(model, origin);
  return model;
}

Model read_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open TFLite model");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  return parse_model(bytes.data(), bytes.size(), path.string());
}

std::vector<float> dequantize(const Model& model, const Tensor& tensor) {
  const auto& bytes = model.data(tensor);
  const auto count = static_cast<size_t>(tensor.elements());
  if (bytes.empty()) throw Error("tensor " + tensor.name + " has no constant data");
  if (bytes.size() != count * type_size(tensor.type))
    throw Error("tensor " + tensor.name + ": " + std::to_string(bytes.size()) + " bytes for " +
                std::to_string(count) + " " + std::string(type_name(tensor.type)) + " values");
  std::vector<float> out(count);
  const auto& q = tensor.quantization;
  const int32_t axis = q.quantized_dimension;
  const bool per_channel = q.scale.size() > 1;
  if (per_channel && (axis < 0 || axis >= static_cast<int32_t>(tensor.shape.size()) ||
                      static_cast<size_t>(tensor.shape[axis]) != q.scale.size()))
    throw Error("tensor " + tensor.name + ": " + std::to_string(q.scale.size()) +
                " scales do not match quantized dimension " + std::to_string(axis));
  const int64_t stride = per_channel ? axis_stride(tensor.shape, axis) : 1;
  const size_t channels = per_channel ? q.scale.size() : 1;
  auto real = [&](size_t i, double quantized) {
    if (q.scale.empty()) return static_cast<float>(quantized);
    const size_t c = per_channel ? (i / stride) % channels : 0;
    return static_cast<float>(q.scale[c] * (quantized - static_cast<double>(q.zero_point[c])));
  };
  for (size_t i = 0; i < count; ++i) {
    switch (tensor.type) {
      case TensorType::float32:
        out[i] = load<float>(bytes.data(), i);
        break;
      case TensorType::int32:
        out[i] = real(i, load<int32_t>(bytes.data(), i));
        break;
      case TensorType::int8:
        out[i] = real(i, load<int8_t>(bytes.data(), i));
        break;
      case TensorType::uint8:
        out[i] = real(i, load<uint8_t>(bytes.data(), i));
        break;
      case TensorType::int16:
        out[i] = real(i, load<int16_t>(bytes.data(), i));
        break;
      default:
        throw Error("tensor " + tensor.name + ": cannot dequantize " +
                    std::string(type_name(tensor.type)));
    }
  }
  return out;
}

void check_sha256sums(const std::filesystem::path& file) {
  const auto sums = file.parent_path() / "SHA256SUMS";
  std::ifstream in(sums);
  if (!in) return;  // a copy without its checksum list: nothing to check against
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string hex, name;
    if (!(fields >> hex >> name)) continue;
    if (!name.empty() && name.front() == '*') name.erase(0, 1);  // binary-mode marker
    if (name != file.filename().string()) continue;
    if (!std::filesystem::exists(file)) throw Error(file.string() + ": file missing");
    if (sha256_file(file) != hex)
      throw Error(file.string() + ": SHA-256 does not match " + sums.string() +
                  " (corrupt or a different version; fetch it again)");
    return;
  }
}

}  // namespace sax::tflite

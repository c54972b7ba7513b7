#include "transfer/yamnet_import.h"

#include <map>

#include "common/error.h"

namespace sax {

namespace {

using tflite::Model;
using tflite::Operator;

// The constant feeding an operator input: its own data, or the input of the DEQUANTIZE op that
// produces it from int8 weights.
class Constants {
 public:
  Constants(const Model& model, std::string origin) : model_(model), origin_(std::move(origin)) {
    for (const auto& o : model.operators)
      for (auto output : o.outputs) producer_[output] = &o;
  }

  WeightArray operator()(int32_t index) const {
    if (index < 0) throw Error(origin_ + ": a YAMNet weight input is missing");
    const auto& tensor = model_.tensors[index];
    if (!model_.data(tensor).empty())
      return WeightArray{std::vector<int64_t>(tensor.shape.begin(), tensor.shape.end()),
                         tflite::dequantize(model_, tensor)};
    const auto it = producer_.find(index);
    if (it == producer_.end() || it->second->opcode != tflite::op::dequantize)
      throw Error(origin_ + ": tensor " + tensor.name + " is not a constant");
    return (*this)(it->second->inputs.at(0));
  }

 private:
  const Model& model_;
  std::string origin_;
  std::map<int32_t, const Operator*> producer_;
};

std::vector<const Operator*> operators_of(const Model& model,
                                          std::initializer_list<int32_t> codes) {
  std::vector<const Operator*> found;
  for (const auto& o : model.operators)
    for (auto code : codes)
      if (o.opcode == code) found.push_back(&o);
  return found;
}

// The MUL that applies the window is the one with a constant operand.
WeightArray find_window(const Model& model, const Constants& constant, const std::string& origin) {
  for (const auto* o : operators_of(model, {tflite::op::mul}))
    for (auto input : o->inputs)
      if (!model.data(model.tensors[input]).empty()) return constant(input);
  throw Error(origin + ": no window (a MUL by a constant) in the graph; is this YAMNet?");
}

}  // namespace

YamnetWeights extract_yamnet(const Model& model, const std::string& origin) {
  const Constants constant(model, origin);
  const auto dense = operators_of(model, {tflite::op::fully_connected});
  const auto convs = operators_of(model, {tflite::op::conv_2d, tflite::op::depthwise_conv_2d});
  if (dense.size() != 4 || convs.size() != 27)
    throw Error(origin + ": " + std::to_string(dense.size()) + " FULLY_CONNECTED and " +
                std::to_string(convs.size()) +
                " convolutions; YAMNet has 4 and 27 (is this the YAMNet classifier?)");
  YamnetWeights w;
  w.window = find_window(model, constant, origin);
  w.window.shape = {static_cast<int64_t>(w.window.values.size())};  // stored as [1, 400]
  w.dft_real = constant(dense[0]->inputs.at(1));
  w.dft_imag = constant(dense[1]->inputs.at(1));
  w.mel = constant(dense[2]->inputs.at(1));
  w.mel_offset = constant(dense[2]->inputs.at(2));
  for (const auto* o : convs) {
    w.conv_weights.push_back(constant(o->inputs.at(1)));
    w.conv_biases.push_back(constant(o->inputs.at(2)));
    w.conv_strides.push_back(o->options.stride_h);
  }
  w.dense_weight = constant(dense[3]->inputs.at(1));
  w.dense_bias = constant(dense[3]->inputs.at(2));
  return w;
}

void import_yamnet(const std::filesystem::path& tflite_file, const std::filesystem::path& out) {
  tflite::check_sha256sums(tflite_file);
  const auto model = tflite::read_model(tflite_file);
  save_yamnet(extract_yamnet(model, tflite_file.string()), out);
}

}  // namespace sax

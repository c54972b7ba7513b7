#pragma once
// A small reference interpreter for TFLite graphs: runs the operators of a tflite::Model one by
// one in plain C++ (float arithmetic, weights dequantized once), so the LibTorch port of YAMNet
// can be checked against the file it came from. Written for clarity, not speed.
//
//   sax::tflite::Interpreter reference(model);
//   auto values = reference.run({{{1, 15600}, audio}});        // every tensor of the graph
//   const auto& scores = values[model.outputs[0]];
//
// Supports the operators YAMNet uses: RESHAPE, SLICE, STRIDED_SLICE, GATHER, PAD, MUL, ADD,
// SQRT, LOG, FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE, MEAN, LOGISTIC. Hybrid
// int8 operators are computed in float with the dequantized weights (TFLite's runtime instead
// quantizes activations on the fly, which differs from this by its rounding error).
#include <cstdint>
#include <vector>

#include "transfer/tflite.h"

namespace sax::tflite {

// A dense row-major array; integer tensors (shapes, indices) are held as exact float values.
struct Array {
  std::vector<int32_t> shape;
  std::vector<float> values;
};

class Interpreter {
 public:
  // Dequantizes every constant tensor once; `model` must outlive the interpreter.
  explicit Interpreter(const Model& model);

  // `inputs` in the order of model.inputs; returns the value of every tensor, by index.
  // Throws sax::Error when an input does not match the model or an operator is unsupported.
  std::vector<Array> run(const std::vector<Array>& inputs) const;

 private:
  const Model& model_;
  std::vector<Array> constants_;
};

}  // namespace sax::tflite

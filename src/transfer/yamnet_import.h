#pragma once
// Finds YAMNet's constants and weights in a TFLite graph by walking its operators in order
// (names are not relied on): the window is the MUL's constant, the first two FULLY_CONNECTED
// are the DFT, the third the mel filterbank with the log offset as its bias, then the
// convolutions (through their DEQUANTIZE ops) and the final dense layer.
//
//   auto model = sax::tflite::read_model("yamnet.tflite");
//   sax::save_yamnet(sax::extract_yamnet(model, "yamnet.tflite"), "yamnet.pt");
#include <string>

#include "model/yamnet.h"
#include "transfer/tflite.h"

namespace sax {

// Throws sax::Error naming `origin` when the graph is not shaped like YAMNet.
YamnetWeights extract_yamnet(const tflite::Model& model, const std::string& origin);

// Reads, checks (SHA256SUMS beside it, when present) and converts a yamnet.tflite file into
// the LibTorch model file `out`.
void import_yamnet(const std::filesystem::path& tflite_file, const std::filesystem::path& out);

}  // namespace sax

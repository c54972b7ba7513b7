#pragma once
// A model's weights as named float32 tensors in the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
// header {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}} and the raw
// little-endian data. A plain format that LibTorch-free code (infer/cnn.h) and other tools
// (Python's safetensors, numpy) read without LibTorch. Names are LibTorch's
// named_parameters() and named_buffers() names, e.g. "features.0.weight".
//
//   auto weights = sax::WeightsFile::read(dir / "model.safetensors");
//   const auto& w = weights.at("features.0.weight", {16, 1, 5, 5});
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sax {

// A model folder's weights file, next to its model.json.
inline const char* const kWeightsFile = "model.safetensors";

struct WeightTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
};

class WeightsFile {
 public:
  WeightsFile() = default;
  WeightsFile(std::filesystem::path file, std::map<std::string, WeightTensor> tensors)
      : file_(std::move(file)), tensors_(std::move(tensors)) {}

  // Throws sax::Error naming the file when it is missing, truncated or not safetensors of
  // float32 tensors.
  static WeightsFile read(const std::filesystem::path& file);
  // Writes atomically (a temporary file renamed into place); throws sax::Error naming the file.
  void write(const std::filesystem::path& file) const;

  // The tensor called `name` with exactly this shape; throws sax::Error naming the file and the
  // tensor when it is missing or shaped differently.
  const WeightTensor& at(const std::string& name, const std::vector<int64_t>& shape) const;
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  const std::map<std::string, WeightTensor>& tensors() const { return tensors_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, WeightTensor> tensors_;
};

// "[16, 1, 5, 5]": shapes in messages.
std::string shape_text(const std::vector<int64_t>& shape);

}  // namespace sax

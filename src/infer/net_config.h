#pragma once
// The CNN's architecture as a training config and a model.json name it (LibTorch-free: the
// LibTorch Cnn in src/model and the runtime in infer/cnn.h both build it).
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sax {

// Conv blocks (conv -> [batch norm] -> ReLU -> pool 2x2), then flatten -> [hidden] -> 1 logit.
struct NetConfig {
  int depth = 4;      // conv blocks
  int channels = 16;  // first block; doubles per block up to max_channels
  int max_channels = 64;
  std::vector<int> kernels{5, 3};  // per block; the last entry repeats for deeper blocks
  bool batch_norm = true;
  double dropout = 0.3;      // before each fully connected layer
  std::string pool = "max";  // "max" or "avg"
  int hidden = 64;           // 0: no hidden fully connected layer

  int channels_of(int block) const;  // output channels of a conv block
  int kernel_of(int block) const;
};

void to_json(nlohmann::json& j, const NetConfig& c);
void from_json(const nlohmann::json& j, NetConfig& c);  // validates; sax::Error names the field

}  // namespace sax

#pragma once
// A PyTorch state_dict as torch.save writes it, read without LibTorch: a zip (entries stored,
// not compressed) holding <archive>/data.pkl, a pickle of {name: tensor}, and one raw
// little-endian storage per tensor in <archive>/data/<key>. Only what a state_dict of float
// tensors needs is understood; anything else is a clear error naming the file.
//
//   auto weights = sax::read_pytorch_state_dict("mn04_as_mAP_432.pt", expected_sha256);
//   const auto& w = weights.at("features.0.0.weight", {8, 1, 3, 3});
#include <filesystem>
#include <string>
#include <string_view>

#include "infer/weights.h"

namespace sax {

// Throws sax::Error naming the file when it is missing, truncated, not a PyTorch zip of float32
// tensors, or (with `expected_sha256`, lower-case hex) when its SHA-256 differs.
WeightsFile read_pytorch_state_dict(const std::filesystem::path& file,
                                    const std::string& expected_sha256 = "");
// The same on the file's bytes; `name` stands for the file in messages and in WeightsFile::file().
WeightsFile parse_pytorch_state_dict(std::string_view bytes, const std::filesystem::path& name);

}  // namespace sax

#include "infer/weights.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "support/testing.h"

namespace sax {
namespace {

using testing::error_of;
using testing::write_bytes;

WeightsFile two_tensors() {
  return WeightsFile({}, {{"features.0.weight", {{2, 1, 1, 3}, {1, 2, 3, 4, 5, 6}}},
                          {"head.1.bias", {{1}, {-0.5f}}}});
}

TEST(Weights, RoundTripKeepsNamesShapesAndValues) {
  testing::TempDir dir;
  two_tensors().write(dir / "w.safetensors");
  const auto read = WeightsFile::read(dir / "w.safetensors");
  ASSERT_EQ(read.tensors().size(), 2u);
  const auto& w = read.at("features.0.weight", {2, 1, 1, 3});
  EXPECT_EQ(w.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(read.at("head.1.bias", {1}).values, std::vector<float>{-0.5f});
}

TEST(Weights, FileIsSafetensors) {
  // 8-byte little-endian header length, then the JSON header, then the data (8-byte aligned).
  testing::TempDir dir;
  two_tensors().write(dir / "w.safetensors");
  std::ifstream in(dir / "w.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(length % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, length));
  EXPECT_EQ(header.at("features.0.weight").at("dtype"), "F32");
  EXPECT_EQ(header.at("features.0.weight").at("shape"), nlohmann::json({2, 1, 1, 3}));
  EXPECT_EQ(bytes.size(), 8 + length + 7 * sizeof(float));
}

TEST(Weights, MissingOrMisshapenTensorNamesFileAndTensor) {
  testing::TempDir dir;
  two_tensors().write(dir / "w.safetensors");
  const auto read = WeightsFile::read(dir / "w.safetensors");
  const auto missing = error_of([&] { read.at("features.1.weight", {2}); });
  EXPECT_NE(missing.find("w.safetensors"), std::string::npos) << missing;
  EXPECT_NE(missing.find("no tensor features.1.weight"), std::string::npos) << missing;
  const auto shape = error_of([&] { read.at("head.1.bias", {2}); });
  EXPECT_NE(shape.find("head.1.bias has shape [1], the architecture needs [2]"), std::string::npos)
      << shape;
}

TEST(Weights, NonFiniteValuesAreRefusedAtLoadNamingTheTensor) {
  // A model with NaN weights scored NaN for every window, which once hung detection.
  testing::TempDir dir;
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    WeightsFile({}, {{"features.0.weight", {{2}, {1, 2}}}, {"head.1.bias", {{2}, {0, bad}}}})
        .write(dir / "w.safetensors");
    const auto message = error_of([&] { WeightsFile::read(dir / "w.safetensors"); });
    EXPECT_NE(message.find("w.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find("tensor head.1.bias holds a value that is not finite"),
              std::string::npos)
        << message;
  }
}

TEST(Weights, GarbledFilesAreRefusedByName) {
  testing::TempDir dir;
  const auto file = dir / "bad.safetensors";
  auto refused = [&](const std::string& bytes, const std::string& why) {
    write_bytes(file, bytes);
    const auto message = error_of([&] { WeightsFile::read(file); });
    EXPECT_NE(message.find("bad.safetensors: not a valid weights file"), std::string::npos)
        << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  };
  refused("abc", "shorter than");
  refused(std::string("\xff\xff\xff\xff\0\0\0\0", 8) + "{}", "header length");
  const std::string header = R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})";
  refused(std::string(1, static_cast<char>(header.size())) + std::string(7, '\0') + header + "xx",
          "only F32");
  const std::string overlong = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  refused(
      std::string(1, static_cast<char>(overlong.size())) + std::string(7, '\0') + overlong + "1234",
      "data offsets");
  const std::string not_json = "{not json";
  refused(std::string(1, static_cast<char>(not_json.size())) + std::string(7, '\0') + not_json,
          "parse");
  EXPECT_NE(error_of([&] { WeightsFile::read(dir / "none.safetensors"); }).find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace sax

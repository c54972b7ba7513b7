// The PyTorch state_dict reader on the shipped EfficientAT file: tensors, values read by an
// independent reader (Python's zipfile and pickle), and the errors a damaged file must give.
#include "infer/pytorch_weights.h"

#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "infer/builtin_model.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

const fs::path kModelDir = fs::path(SAXDETECT_SOURCE_DIR) / "models" / "efficientat";
const fs::path kModelFile = kModelDir / "mn04_as_mAP_432.pt";

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string shipped_sha256() {
  std::ifstream in(kModelDir / "SHA256SUMS");
  std::string hash, name;
  while (in >> hash >> name)
    if (name == kModelFile.filename().string()) return hash;
  return "";
}

TEST(PytorchWeights, ReadsEveryTensorOfTheShippedFile) {
  const auto weights = read_pytorch_state_dict(kModelFile, shipped_sha256());
  EXPECT_EQ(weights.tensors().size(), 312u);
  const auto& first = weights.at("features.0.0.weight", {8, 1, 3, 3});
  // The first values and one row's sum as Python's zipfile + pickle read them.
  EXPECT_FLOAT_EQ(first.values[0], -0.07442086189985275f);
  EXPECT_FLOAT_EQ(first.values[3], -0.24450913071632385f);
  const auto& classifier = weights.at("classifier.5.weight", {527, 512});
  double sax_row = 0;
  for (int i = 0; i < 512; ++i) sax_row += classifier.values[kAudioSetSaxophone * 512 + i];
  EXPECT_NEAR(sax_row, 11.088559692783747, 1e-4);
  EXPECT_FLOAT_EQ(weights.at("classifier.5.bias", {527}).values[kAudioSetSaxophone],
                  -0.6241581439971924f);
  // An int64 buffer arrives as float.
  EXPECT_FLOAT_EQ(weights.at("features.0.1.num_batches_tracked", {}).values.at(0), 291900.0f);
}

TEST(PytorchWeights, TheBuiltInModelIsTheShippedFile) {
  const auto& builtin = builtin_efficientat_weights();
  const auto file = read_pytorch_state_dict(kModelFile);
  ASSERT_EQ(builtin.tensors().size(), file.tensors().size());
  for (const auto& [name, tensor] : file.tensors())
    EXPECT_EQ(builtin.at(name, tensor.shape).values, tensor.values) << name;
}

TEST(PytorchWeights, AMissingFileIsNamed) {
  const auto message = error_of([] { read_pytorch_state_dict("/nonexistent/model.pt"); });
  EXPECT_NE(message.find("/nonexistent/model.pt"), std::string::npos) << message;
}

TEST(PytorchWeights, AChecksumMismatchIsNamed) {
  const auto message = error_of([] { read_pytorch_state_dict(kModelFile, std::string(64, '0')); });
  EXPECT_NE(message.find(kModelFile.string()), std::string::npos) << message;
  EXPECT_NE(message.find("SHA-256"), std::string::npos) << message;
}

TEST(PytorchWeights, ATruncatedFileIsAnErrorNamingIt) {
  const testing::TempDir dir;
  const std::string bytes = file_bytes(kModelFile);
  for (size_t keep : {size_t{0}, size_t{100}, bytes.size() / 2, bytes.size() - 30}) {
    const auto path = dir / "truncated.pt";
    testing::write_bytes(path, bytes.substr(0, keep));
    const auto message = error_of([&] { read_pytorch_state_dict(path); });
    EXPECT_NE(message.find(path.string()), std::string::npos) << keep << ": " << message;
  }
}

TEST(PytorchWeights, AStorageCutShortIsNamedByTensor) {
  std::string bytes = file_bytes(kModelFile);
  // Corrupting data.pkl's first tensor's storage key makes its storage missing.
  const auto at = bytes.find("features.0.0.weight");
  ASSERT_NE(at, std::string::npos);
  const auto key = bytes.find(
      "X\x01\x00\x00\x00"
      "0",
      at);
  ASSERT_NE(key, std::string::npos);
  bytes[key + 5] = 'z';
  const auto message = error_of([&] { parse_pytorch_state_dict(bytes, "broken.pt"); });
  EXPECT_NE(message.find("broken.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("features.0.0.weight"), std::string::npos) << message;
}

TEST(PytorchWeights, NotAZipFileIsAClearError) {
  const auto message =
      error_of([] { parse_pytorch_state_dict(std::string(4096, 'x'), "noise.pt"); });
  EXPECT_NE(message.find("noise.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("not a zip"), std::string::npos) << message;
}

}  // namespace
}  // namespace sax

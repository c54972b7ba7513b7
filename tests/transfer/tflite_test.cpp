// The TFLite reader on the shipped YAMNet file, on hand-built tensors, and on broken files.
#include "transfer/tflite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "common/error.h"
#include "support/testing.h"
#include "yamnet_files.h"

namespace sax::tflite {
namespace {

using sax::testing::TempDir;

std::vector<uint8_t> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// Expects `f` to throw sax::Error whose message contains `needle`.
template <typename F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no sax::Error thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

class YamnetFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::filesystem::exists(sax::testing::yamnet_tflite()))
      model_ = new Model(read_model(sax::testing::yamnet_tflite()));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override { SKIP_WITHOUT_YAMNET(); }

  const Tensor& tensor(std::string_view name) const {
    return model_->tensors[model_->tensor_index(name)];
  }
  static Model* model_;
};
Model* YamnetFile::model_ = nullptr;

TEST_F(YamnetFile, HasTheTensorsAndShapesOfYamnet) {
  EXPECT_EQ(model_->tensors.size(), 135u);
  EXPECT_EQ(model_->operators.size(), 60u);
  ASSERT_EQ(model_->inputs.size(), 1u);
  EXPECT_EQ(model_->tensors[model_->inputs[0]].shape, (std::vector<int32_t>{1, 15600}));
  ASSERT_EQ(model_->outputs.size(), 2u);
  EXPECT_EQ(model_->tensors[model_->outputs[0]].shape, (std::vector<int32_t>{1, 521}));
  EXPECT_EQ(model_->tensors[model_->outputs[1]].shape, (std::vector<int32_t>{96, 64}));

  const auto& dense = tensor("yamnet_frames/dense/MatMul");
  EXPECT_EQ(dense.type, TensorType::int8);
  EXPECT_EQ(dense.shape, (std::vector<int32_t>{521, 1024}));
  EXPECT_EQ(model_->data(dense).size(), 521u * 1024u);
  const auto& first_conv = tensor("yamnet_frames/layer1/conv/Conv2D");
  EXPECT_EQ(first_conv.type, TensorType::float32);
  EXPECT_EQ(first_conv.shape, (std::vector<int32_t>{32, 3, 3, 1}));
}

TEST_F(YamnetFile, OperatorsAreMobilenetInOrder) {
  int convs = 0, depthwise = 0, strided = 0;
  for (const auto& o : model_->operators) {
    convs += o.opcode == op::conv_2d;
    depthwise += o.opcode == op::depthwise_conv_2d;
    if (o.opcode == op::conv_2d || o.opcode == op::depthwise_conv_2d) {
      EXPECT_EQ(o.options.padding, Padding::same);
      EXPECT_EQ(o.options.activation, Activation::relu);
      strided += o.options.stride_h == 2 && o.options.stride_w == 2;
    }
  }
  EXPECT_EQ(convs, 14);  // layer 1 and 13 pointwise convolutions
  EXPECT_EQ(depthwise, 13);
  EXPECT_EQ(strided, 5);  // layers 1, 3, 5, 7 and 13 halve the patch
  EXPECT_EQ(model_->operators.front().opcode, op::reshape);
  EXPECT_EQ(model_->operators.back().opcode, op::logistic);
  EXPECT_EQ(op_name(model_->operators.back().opcode), "LOGISTIC");
}

TEST_F(YamnetFile, DequantizesInt8AsScaleTimesRawByte) {
  const auto& dense = tensor("yamnet_frames/dense/MatMul");
  ASSERT_EQ(dense.quantization.scale.size(), 1u);
  const auto values = dequantize(*model_, dense);
  const auto& raw = model_->data(dense);
  const float scale = dense.quantization.scale[0];
  for (size_t i : {size_t{0}, size_t{1}, size_t{4242}, raw.size() - 1}) {
    int8_t q;
    std::memcpy(&q, &raw[i], 1);
    EXPECT_FLOAT_EQ(values[i], scale * q) << "element " << i;
  }
}

// The front end's constants are known functions: the periodic Hann window, cos/sin DFT rows
// (stored as int8, so within half a quantization step) and the 0.001 log offset.
TEST_F(YamnetFile, FrontEndConstantsAreHannWindowAndDft) {
  const auto window = dequantize(*model_, tensor("yamnet_frames/tf_op_layer_Mul/Mul/y"));
  ASSERT_EQ(window.size(), 400u);
  for (size_t n : {0, 57, 200, 333})
    EXPECT_NEAR(window[n], 0.5 - 0.5 * std::cos(2 * M_PI * n / 400.0), 1e-6) << n;

  const auto& real_tensor = tensor("yamnet_frames/tf_op_layer_MatMul/MatMul");
  const auto& imag_tensor = tensor("yamnet_frames/tf_op_layer_MatMul_1/MatMul_1");
  const auto real = dequantize(*model_, real_tensor);
  const auto imag = dequantize(*model_, imag_tensor);
  const double half_step = real_tensor.quantization.scale[0] / 2 + 1e-6;
  for (int k : {0, 1, 37, 256})
    for (int n : {0, 3, 100, 511}) {
      EXPECT_NEAR(real[k * 512 + n], std::cos(2 * M_PI * k * n / 512.0), half_step);
      EXPECT_NEAR(std::abs(imag[k * 512 + n]), std::abs(std::sin(2 * M_PI * k * n / 512.0)),
                  half_step);
    }
  const auto offset = dequantize(*model_, tensor("yamnet_frames/tf_op_layer_MatMul_2/MatMul_21"));
  ASSERT_EQ(offset.size(), 64u);
  EXPECT_FLOAT_EQ(offset[0], 0.001f);
}

TEST(Dequantize, AppliesPerChannelScalesAlongTheQuantizedDimension) {
  Model model;
  model.buffers = {{}, {static_cast<uint8_t>(int8_t{-3}), 0, 5, 7, static_cast<uint8_t>(-128), 1}};
  Tensor t;
  t.name = "w";
  t.type = TensorType::int8;
  t.shape = {2, 3};
  t.buffer = 1;
  t.quantization.scale = {0.5f, 2.0f};
  t.quantization.zero_point = {1, -1};
  t.quantization.quantized_dimension = 0;  // rows: (q - 1) * 0.5, then (q + 1) * 2
  EXPECT_EQ(dequantize(model, t), (std::vector<float>{-2.0f, -0.5f, 2.0f, 16.0f, -254.0f, 4.0f}));

  t.shape = {3, 2};
  t.quantization.quantized_dimension = 1;  // columns alternate between the two scales
  EXPECT_EQ(dequantize(model, t), (std::vector<float>{-2.0f, 2.0f, 2.0f, 16.0f, -64.5f, 4.0f}));
}

TEST(Dequantize, RejectsScalesThatDoNotMatchTheChannelCount) {
  Model model;
  model.buffers = {{}, {1, 2, 3, 4}};
  Tensor t;
  t.name = "bad";
  t.type = TensorType::int8;
  t.shape = {4};
  t.buffer = 1;
  t.quantization.scale = {1.0f, 2.0f, 3.0f};
  t.quantization.zero_point = {0, 0, 0};
  expect_error([&] { dequantize(model, t); }, "bad");
}

TEST(ReadModel, MissingFileNamesIt) {
  TempDir dir;
  expect_error([&] { read_model(dir / "nope.tflite"); }, "nope.tflite");
}

TEST(ReadModel, NonTfliteFileIsRefused) {
  TempDir dir;
  write_bytes(dir / "x.tflite", std::vector<uint8_t>(64, 'x'));
  expect_error([&] { read_model(dir / "x.tflite"); }, "not a TFLite model");
}

TEST(ReadModel, TruncatedFileGivesAClearError) {
  SKIP_WITHOUT_YAMNET();
  TempDir dir;
  auto bytes = file_bytes(sax::testing::yamnet_tflite());
  bytes.resize(bytes.size() / 3);
  write_bytes(dir / "cut.tflite", bytes);
  expect_error([&] { read_model(dir / "cut.tflite"); }, "cut.tflite: corrupt or truncated");
}

// Random damage anywhere in the structure must end in sax::Error or a parsed model, never a
// crash or a different exception type.
TEST(ReadModel, CorruptedBytesNeverCrash) {
  SKIP_WITHOUT_YAMNET();
  const auto original = file_bytes(sax::testing::yamnet_tflite());
  std::mt19937 random(7);
  int refused = 0;
  for (int trial = 0; trial < 40; ++trial) {
    auto bytes = original;
    // The structure (offsets, vtables) sits after the weights, at the end of the file.
    std::uniform_int_distribution<size_t> where(bytes.size() - 40000, bytes.size() - 1);
    for (int k = 0; k < 8; ++k) bytes[where(random)] ^= static_cast<uint8_t>(1 + random() % 255);
    try {
      parse_model(bytes.data(), bytes.size(), "damaged");
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(Sha256Sums, AcceptsTheShippedFile) {
  SKIP_WITHOUT_YAMNET();
  EXPECT_NO_THROW(check_sha256sums(sax::testing::yamnet_tflite()));
}

TEST(Sha256Sums, RejectsAFileThatDiffersFromItsChecksum) {
  SKIP_WITHOUT_YAMNET();
  TempDir dir;
  std::filesystem::copy_file(sax::testing::yamnet_dir() / "SHA256SUMS", dir / "SHA256SUMS");
  auto bytes = file_bytes(sax::testing::yamnet_tflite());
  bytes[1000] ^= 1;
  write_bytes(dir / "yamnet.tflite", bytes);
  expect_error([&] { check_sha256sums(dir / "yamnet.tflite"); }, "SHA-256 does not match");
}

}  // namespace
}  // namespace sax::tflite

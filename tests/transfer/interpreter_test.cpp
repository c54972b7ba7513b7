// The reference interpreter: single operators on hand-built graphs, then all of YAMNet.
#include "transfer/interpreter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "reference_audio.h"
#include "yamnet_files.h"

namespace sax::tflite {
namespace {

// A model whose tensors are the given arrays (constants when `constant`), run by one operator.
struct GraphBuilder {
  Model model;
  GraphBuilder() { model.buffers.emplace_back(); }  // buffer 0: "no data"

  int32_t tensor(std::vector<int32_t> shape, const std::vector<float>& constant = {}) {
    Tensor t;
    t.name = "t" + std::to_string(model.tensors.size());
    t.shape = std::move(shape);
    if (!constant.empty()) {
      t.buffer = static_cast<uint32_t>(model.buffers.size());
      const auto* bytes = reinterpret_cast<const uint8_t*>(constant.data());
      model.buffers.emplace_back(bytes, bytes + constant.size() * sizeof(float));
    }
    model.tensors.push_back(t);
    return static_cast<int32_t>(model.tensors.size() - 1);
  }
  void add(int32_t opcode, std::vector<int32_t> inputs, int32_t output, Options options = {}) {
    model.operators.push_back(
        Operator{opcode, "", std::move(inputs), {output}, std::move(options)});
  }
};

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// TFLite's SAME padding with stride 2 on an even size pads only after: the first output sees
// rows and columns 0..2, the last sees 2..3 and one padded row/column.
TEST(Interpreter, Conv2dSamePaddingPutsTheOddPixelAtTheEnd) {
  GraphBuilder g;
  const int32_t input = g.tensor({1, 4, 4, 1});
  const int32_t weights = g.tensor({1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  const int32_t bias = g.tensor({1}, {1.0f});
  const int32_t output = g.tensor({1, 2, 2, 1});
  Options o;
  o.stride_h = o.stride_w = 2;
  g.add(op::conv_2d, {input, weights, bias}, output, o);
  g.model.inputs = {input};
  const auto values = Interpreter(g.model).run({{{1, 4, 4, 1}, iota(16)}});
  EXPECT_EQ(values[output].shape, (std::vector<int32_t>{1, 2, 2, 1}));
  EXPECT_EQ(values[output].values, (std::vector<float>{46, 40, 67, 51}));
}

TEST(Interpreter, DepthwiseConvKeepsChannelsApartAndAppliesRelu) {
  GraphBuilder g;
  const int32_t input = g.tensor({1, 1, 2, 2});  // two pixels, two channels
  // 1x2 kernel: channel 0 weights (1, 1), channel 1 weights (-1, 0).
  const int32_t weights = g.tensor({1, 1, 2, 2}, {1, -1, 1, 0});
  const int32_t output = g.tensor({1, 1, 1, 2});
  Options o;
  o.padding = Padding::valid;
  o.activation = Activation::relu;
  g.add(op::depthwise_conv_2d, {input, weights, -1}, output, o);
  g.model.inputs = {input};
  const auto values = Interpreter(g.model).run({{{1, 1, 2, 2}, {1, 2, 3, 4}}});
  EXPECT_EQ(values[output].values, (std::vector<float>{4, 0}));  // 1 + 3; relu(-2)
}

TEST(Interpreter, GatherStridedSliceAndMeanFollowTheirDefinitions) {
  GraphBuilder g;
  const int32_t input = g.tensor({3, 4});
  const int32_t indices = g.tensor({2}, {2, 0});
  const int32_t gathered = g.tensor({2, 4});
  g.add(op::gather, {input, indices}, gathered);
  const int32_t begin = g.tensor({2}, {0, 1}), end = g.tensor({2}, {2, 4}),
                step = g.tensor({2}, {1, 2});
  const int32_t sliced = g.tensor({2, 2});
  g.add(op::strided_slice, {gathered, begin, end, step}, sliced);
  const int32_t axes = g.tensor({1}, {1});
  const int32_t averaged = g.tensor({2});
  g.add(op::mean, {sliced, axes}, averaged);
  g.model.inputs = {input};
  const auto values = Interpreter(g.model).run({{{3, 4}, iota(12)}});
  EXPECT_EQ(values[gathered].values, (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3}));
  EXPECT_EQ(values[sliced].values, (std::vector<float>{9, 11, 1, 3}));
  EXPECT_EQ(values[averaged].values, (std::vector<float>{10, 2}));
}

TEST(Interpreter, RefusesWrongInputSizeAndUnknownOperators) {
  GraphBuilder g;
  const int32_t input = g.tensor({2});
  const int32_t output = g.tensor({2});
  g.add(op::softmax, {input}, output);
  g.model.inputs = {input};
  Interpreter interpreter(g.model);
  EXPECT_THROW(interpreter.run({{{3}, {1, 2, 3}}}), Error);
  EXPECT_THROW(interpreter.run({{{2}, {1, 2}}}), Error);
}

class YamnetReference : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_YAMNET();
    model_ = read_model(sax::testing::yamnet_tflite());
  }
  Model model_;
};

// The graph's log-mel output against the front end computed from first principles; they differ
// only by the int8 rounding of the file's DFT and mel matrices.
TEST_F(YamnetReference, LogMelOutputMatchesFirstPrinciples) {
  const auto audio = sax::testing::chord(15600);
  const auto values = Interpreter(model_).run({{{1, 15600}, audio}});
  const auto& log_mel = values[model_.outputs[1]];
  const auto expected = sax::testing::reference_log_mel(audio);
  ASSERT_EQ(expected.size(), 96u);
  double total = 0;
  for (size_t f = 0; f < 96; ++f)
    for (size_t b = 0; b < 64; ++b) {
      const double difference = std::abs(log_mel.values[f * 64 + b] - expected[f][b]);
      total += difference;
      if (expected[f][b] > 0) {
        EXPECT_LT(difference, 0.1) << "frame " << f << " band " << b;
      }
    }
  EXPECT_LT(total / (96 * 64), 0.1);
}

TEST_F(YamnetReference, PureToneIsHeardAsASineWave) {
  std::vector<float> tone(15600);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440.0 * i / 16000));
  const auto values = Interpreter(model_).run({{{1, 15600}, tone}});
  const auto& scores = values[model_.outputs[0]].values;
  ASSERT_EQ(scores.size(), 521u);
  std::vector<int> order(521);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int a, int b) { return scores[a] > scores[b]; });
  const int sine_wave = 495;  // yamnet_class_map.csv
  EXPECT_NE(std::find(order.begin(), order.begin() + 5, sine_wave), order.begin() + 5);
  EXPECT_LT(scores[192], 0.05);  // and certainly not a saxophone
}

}  // namespace
}  // namespace sax::tflite

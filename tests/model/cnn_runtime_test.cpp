// The LibTorch-free CNN (infer/cnn.h) against LibTorch's Cnn in eval mode, and the weights
// file between them (save_weights / load_weights, the model.pt fallback).
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/error.h"
#include "infer/detector.h"
#include "model/net.h"
#include "support/testing.h"

namespace sax {
namespace {

// The default architecture without a GRU (what training settles "auto" to on a small library).
NetConfig plain_net() { return settle_gru({}, 0); }

// A Cnn with random weights and batch-norm statistics (so folding them is tested), in eval
// mode, its logits kept moderate so probabilities do not saturate.
Cnn random_cnn(const NetConfig& config, int rows, int cols, uint64_t seed) {
  torch::manual_seed(seed);
  Cnn net(config, rows, cols);
  kaiming_init(*net);
  torch::NoGradGuard no_grad;
  for (auto& m : net->modules(/*include_self=*/false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0, 0.1);
      bn->running_mean.normal_(0, 0.1);
      bn->running_var.uniform_(0.5, 2.0);
    }
  for (auto& p : net->named_parameters())
    if (p.key().rfind("head.", 0) == 0) p.value().mul_(0.3);
  net->eval();
  return net;
}

std::vector<Spectrogram> random_inputs(int count, int rows, int cols) {
  const auto x = torch::randn({count, rows * cols});
  std::vector<Spectrogram> out;
  for (int i = 0; i < count; ++i)
    out.push_back(
        {rows, cols,
         std::vector<float>(x[i].data_ptr<float>(), x[i].data_ptr<float>() + rows * cols)});
  return out;
}

std::vector<float> torch_probabilities(Cnn& net, const std::vector<Spectrogram>& inputs) {
  torch::NoGradGuard no_grad;
  const int rows = inputs[0].rows, cols = inputs[0].cols;
  auto batch = torch::empty({static_cast<int64_t>(inputs.size()), 1, rows, cols});
  for (size_t i = 0; i < inputs.size(); ++i)
    std::copy(inputs[i].values.begin(), inputs[i].values.end(),
              batch[static_cast<int64_t>(i)].data_ptr<float>());
  const auto p = torch::sigmoid(net->forward(batch)).contiguous();
  return {p.data_ptr<float>(), p.data_ptr<float>() + p.numel()};
}

FeatureConfig features_of(int rows, int cols) {
  FeatureConfig f;
  f.n_mels = rows;
  f.frames = cols;
  return f;
}

void expect_runtime_equals_torch(const NetConfig& config, int rows, int cols) {
  auto net = random_cnn(config, rows, cols, 11);
  const CnnRuntime runtime(cnn_layout(config, features_of(rows, cols)), weights_of(*net));
  EXPECT_EQ(runtime.fc_inputs(), net->fc_inputs());
  const auto inputs = random_inputs(5, rows, cols);
  const auto expected = torch_probabilities(net, inputs);
  const auto got = runtime.probabilities(inputs, 2);
  ASSERT_EQ(got.size(), expected.size());
  int moderate = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], 1e-4) << "window " << i;
    moderate += expected[i] > 0.01 && expected[i] < 0.99;
  }
  EXPECT_GT(moderate, 0) << "every probability saturated: the comparison shows little";
}

// Every architecture with both heads.
void expect_runtime_equals_torch_with_each_head(NetConfig config, int rows, int cols) {
  for (const char* head : {"window", "frames"}) {
    SCOPED_TRACE(head);
    config.head = head;
    expect_runtime_equals_torch(config, rows, cols);
  }
}

TEST(CnnRuntime, EqualsLibTorchForTheDefaultNetOfEitherLibrarySize) {
  expect_runtime_equals_torch_with_each_head(settle_gru({}, kAutoGruFromSamples - 1), 128, 108);
  const auto large = settle_gru({}, kAutoGruFromSamples);
  ASSERT_EQ(large.gru, kAutoGruUnits);
  expect_runtime_equals_torch(large, 128, 108);
}

TEST(CnnRuntime, EqualsLibTorchForEveryNetConfigField) {
  NetConfig shallow = plain_net();
  shallow.depth = 3;
  shallow.kernels = {3};
  expect_runtime_equals_torch_with_each_head(shallow, 128, 108);
  NetConfig deep = plain_net();
  deep.depth = 5;
  deep.channels = 8;
  deep.max_channels = 32;
  deep.kernels = {7, 5, 3};
  expect_runtime_equals_torch_with_each_head(deep, 128, 108);
  NetConfig avg = plain_net();
  avg.pool = "avg";
  expect_runtime_equals_torch_with_each_head(avg, 128, 108);
  NetConfig no_hidden = plain_net();
  no_hidden.hidden = 0;
  expect_runtime_equals_torch_with_each_head(no_hidden, 128, 108);
  NetConfig no_batch_norm = plain_net();
  no_batch_norm.batch_norm = false;
  expect_runtime_equals_torch_with_each_head(no_batch_norm, 128, 108);
  NetConfig even_kernel = plain_net();
  even_kernel.kernels = {4, 2};
  expect_runtime_equals_torch_with_each_head(even_kernel, 64, 54);
}

// 100 x 90 inputs give maps of 25 rows and of 45, 11 and 5 columns, so the 2x2 output tiles of the
// 3x3 convolutions (Winograd's, in the runtime) overhang the maps' edges.
TEST(CnnRuntime, EqualsLibTorchWhereTheMapsHaveOddSizes) {
  expect_runtime_equals_torch_with_each_head(plain_net(), 100, 90);
}

// Winograd's 3x3 convolutions against im2col's in the same runtime: closer than either is to
// LibTorch, window and step probabilities alike, on even and odd map sizes.
TEST(CnnRuntime, WinogradConvolutionsEqualIm2col) {
  const NetConfig net = settle_gru({}, kAutoGruFromSamples);
  for (const auto& [rows, cols] : std::vector<std::pair<int, int>>{{128, 108}, {100, 90}}) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    const auto weights = weights_of(*random_cnn(net, rows, cols, 12));
    CnnLayout layout = cnn_layout(net, features_of(rows, cols));
    ASSERT_TRUE(layout.winograd) << "the default";
    const CnnRuntime winograd(layout, weights);
    layout.winograd = false;
    const CnnRuntime im2col(layout, weights);
    const auto inputs = random_inputs(4, rows, cols);
    std::vector<float> steps_w, steps_i;
    const auto p_w = winograd.probabilities(inputs, 2, &steps_w);
    const auto p_i = im2col.probabilities(inputs, 2, &steps_i);
    ASSERT_EQ(p_w.size(), p_i.size());
    for (size_t i = 0; i < p_w.size(); ++i) EXPECT_NEAR(p_w[i], p_i[i], 1e-5) << "window " << i;
    ASSERT_EQ(steps_w.size(), steps_i.size());
    ASSERT_FALSE(steps_w.empty());
    float largest = 0;
    for (size_t i = 0; i < steps_w.size(); ++i)
      largest = std::max(largest, std::abs(steps_w[i] - steps_i[i]));
    EXPECT_LT(largest, 1e-5);
    EXPECT_GT(largest, 0.0f) << "the same numbers to the last bit: was Winograd used at all?";
  }
}

TEST(CnnRuntime, EqualsLibTorchAt256By216) {
  expect_runtime_equals_torch_with_each_head(plain_net(), 256, 216);
}

// The runtime's step probabilities against LibTorch's step_probabilities, and its windows.
void expect_steps_equal_torch(const NetConfig& frames) {
  expect_runtime_equals_torch(frames, 128, 108);
  auto net = random_cnn(frames, 128, 108, 5);
  const CnnRuntime runtime(cnn_layout(frames, features_of(128, 108)), weights_of(*net));
  ASSERT_EQ(runtime.steps_per_input(), 108 / frames.frame_step);
  const auto inputs = random_inputs(3, 128, 108);
  std::vector<float> steps;
  runtime.probabilities(inputs, 2, &steps);
  torch::NoGradGuard no_grad;
  auto batch = torch::empty({3, 1, 128, 108});
  for (int i = 0; i < 3; ++i)
    std::copy(inputs[i].values.begin(), inputs[i].values.end(), batch[i].data_ptr<float>());
  const auto expected = net->step_probabilities(batch).contiguous();
  ASSERT_EQ(steps.size(), static_cast<size_t>(expected.numel()));
  double spread = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_NEAR(steps[i], expected.data_ptr<float>()[i], 1e-4) << "step " << i;
    spread = std::max(spread, std::abs(double(steps[i]) - steps[0]));
  }
  EXPECT_GT(spread, 1e-3) << "every step alike: the comparison shows little";
}

TEST(CnnRuntime, FrameHeadStepsAndWindowsEqualLibTorch) {
  for (const auto& [pool, frame_step] :
       std::vector<std::pair<std::string, int>>{{"max", 4}, {"avg", 4}, {"max", 2}}) {
    SCOPED_TRACE(pool + " frame_step " + std::to_string(frame_step));
    NetConfig frames = plain_net();
    frames.head = "frames";
    frames.pool = pool;
    frames.frame_step = frame_step;
    expect_steps_equal_torch(frames);
  }
  NetConfig window = plain_net();
  window.head = "window";
  EXPECT_EQ(CnnRuntime(cnn_layout(window, features_of(128, 108)),
                       weights_of(*random_cnn(window, 128, 108, 6)))
                .steps_per_input(),
            0);
}

TEST(CnnRuntime, GruBetweenStepsAndHeadEqualsLibTorch) {
  for (int units : {8, 32}) {
    SCOPED_TRACE("gru " + std::to_string(units));
    NetConfig crnn = plain_net();
    crnn.gru = units;
    expect_steps_equal_torch(crnn);
  }
  // Without the hidden layer the GRU's outputs go straight to the logit.
  NetConfig direct = plain_net();
  direct.gru = 16;
  direct.hidden = 0;
  expect_steps_equal_torch(direct);
}

TEST(CnnRuntime, AGruHearsTheWholeWindow) {
  // A change in the window's last columns moves the first step's probability only through the
  // GRU: the conv blocks alone see about a second around each step.
  NetConfig crnn = plain_net();
  crnn.gru = 16;
  auto net = random_cnn(crnn, 128, 108, 8);
  const CnnRuntime runtime(cnn_layout(crnn, features_of(128, 108)), weights_of(*net));
  auto inputs = random_inputs(1, 128, 108);
  inputs.push_back(inputs[0]);
  for (int row = 0; row < 128; ++row)
    for (int col = 96; col < 108; ++col) inputs[1].values[row * 108 + col] += 3.0f;
  std::vector<float> steps;
  runtime.probabilities(inputs, 1, &steps);
  const int per_input = runtime.steps_per_input();
  EXPECT_GT(std::abs(steps[0] - steps[per_input]), 1e-5);
  crnn.gru = 0;
  auto plain = random_cnn(crnn, 128, 108, 8);
  const CnnRuntime without(cnn_layout(crnn, features_of(128, 108)), weights_of(*plain));
  without.probabilities(inputs, 1, &steps);
  EXPECT_EQ(steps[0], steps[per_input]);
}

TEST(CnnRuntime, RefusesAnUnknownPoolATooDeepNetAndAnUnsettledGru) {
  NetConfig odd = plain_net();
  odd.pool = "median";
  EXPECT_THROW(cnn_layout(odd, features_of(128, 108)), Error);
  const NetConfig unsettled;  // "gru": "auto", which only training settles
  EXPECT_THROW(cnn_layout(unsettled, features_of(128, 108)), Error);
  EXPECT_THROW(Cnn(unsettled, 128, 108), Error);
  NetConfig deep = plain_net();
  deep.depth = 4;
  auto net = random_cnn(deep, 128, 108, 1);
  EXPECT_THROW(CnnRuntime(cnn_layout(deep, features_of(8, 8)), weights_of(*net)), Error);
}

TEST(CnnRuntime, WrongInputShapeIsAClearError) {
  auto net = random_cnn(plain_net(), 128, 108, 2);
  const CnnRuntime runtime(cnn_layout(plain_net(), features_of(128, 108)), weights_of(*net));
  EXPECT_THROW(runtime.probabilities(random_inputs(1, 64, 108)), Error);
}

TEST(Weights, SavedModelReloadsWithIdenticalOutputs) {
  testing::TempDir dir;
  auto net = random_cnn(plain_net(), 128, 108, 3);
  save_weights(*net, dir / kWeightsFile);
  Cnn reloaded(plain_net(), 128, 108);
  load_weights(*reloaded, dir / kWeightsFile);
  reloaded->eval();
  const auto inputs = random_inputs(3, 128, 108);
  EXPECT_EQ(torch_probabilities(reloaded, inputs), torch_probabilities(net, inputs));
  EXPECT_EQ(reloaded->named_buffers()["features.1.num_batches_tracked"].item<int64_t>(),
            net->named_buffers()["features.1.num_batches_tracked"].item<int64_t>());
}

TEST(Weights, ArchitectureMismatchNamesFileAndTensor) {
  testing::TempDir dir;
  auto net = random_cnn(plain_net(), 128, 108, 4);
  save_weights(*net, dir / kWeightsFile);
  NetConfig wider = plain_net();
  wider.channels = 32;
  Cnn other(wider, 128, 108);
  try {
    load_weights(*other, dir / kWeightsFile);
    FAIL() << "loaded weights of another architecture";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
    EXPECT_NE(message.find("features.0.weight has shape [16, 1, 5, 5]"), std::string::npos)
        << message;
  }
  NetConfig shallow = plain_net();
  shallow.depth = 3;
  Cnn fewer(shallow, 128, 108);
  EXPECT_THROW(load_weights(*fewer, dir / kWeightsFile), Error);  // extra tensors in the file
}

// A model folder as training writes it (the weights in model.pt, as versions before
// model.safetensors saved them, when `legacy`), its model.json without the net fields in
// `missing`, as one written before them.
void write_model_folder(const std::filesystem::path& dir, Cnn& net, bool legacy,
                        const NetConfig& config = plain_net(),
                        const std::vector<std::string>& missing = {}) {
  std::filesystem::create_directories(dir);
  if (legacy)
    torch::save(net, (dir / "model.pt").string());
  else
    save_weights(*net, dir / kWeightsFile);
  nlohmann::json described = config;
  for (const auto& field : missing) described.erase(field);
  std::ofstream(dir / "model.json")
      << nlohmann::json{{"features", FeatureConfig{}}, {"net", described}, {"threshold", 0.5}};
}

TEST(Weights, DetectorReadsTheFolderTrainingWritesAndAsksToRetrainAnOldOne) {
  testing::TempDir dir;
  auto net = random_cnn(plain_net(), 128, 108, 5);
  write_model_folder(dir / "new", net, false);
  write_model_folder(dir / "old", net, true);
  const auto audio = testing::tone(5.0, 22050, 1, 440.0, 0.3);
  const auto fresh = load_detector(dir / "new")->score_windows({audio});
  const auto expected = torch_probabilities(net, log_mel_batch({audio}, FeatureConfig{}));
  EXPECT_NEAR(fresh[0], expected[0], 1e-4);
  try {
    load_detector(dir / "old");
    FAIL() << "loaded a model.pt folder";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find((dir / "old").string()), std::string::npos) << message;
    EXPECT_NE(message.find("saxdetect train"), std::string::npos) << message;
  }
}

TEST(Weights, AModelFromBeforeANetFieldIsReadAsItWasTrained) {
  // Models older than "head" had the window head, older than "frame_step" four columns per
  // step, whatever today's defaults are.
  NetConfig window = plain_net(), frames = plain_net();
  window.head = "window";
  frames.head = "frames";
  frames.frame_step = 4;
  const std::vector<std::pair<NetConfig, std::vector<std::string>>> olds = {
      {window, {"head", "frame_step"}}, {frames, {"frame_step"}}};
  const auto audio = testing::tone(5.0, 22050, 1, 440.0, 0.3);
  for (const auto& [config, missing] : olds) {
    SCOPED_TRACE(config.head);
    testing::TempDir dir;
    auto net = random_cnn(config, 128, 108, 3);
    write_model_folder(dir / "complete", net, false, config);
    write_model_folder(dir / "old", net, false, config, missing);
    const auto complete = load_detector(dir / "complete"), old = load_detector(dir / "old");
    EXPECT_EQ(old->score_windows({audio}), complete->score_windows({audio}));
    EXPECT_DOUBLE_EQ(old->step_seconds(), complete->step_seconds());
  }
  // What a model.json states is taken as it is; a training config's missing field is the default.
  NetConfig fine = plain_net();
  fine.frame_step = 2;
  EXPECT_EQ(net_of_model({{"net", fine}}).frame_step, 2);
  nlohmann::json before_gru = NetConfig{};
  before_gru.erase("gru");
  EXPECT_EQ(net_of_model({{"net", before_gru}}).gru, 0);
  nlohmann::json config = NetConfig{};
  config.erase("frame_step");
  EXPECT_EQ(config.get<NetConfig>().frame_step, NetConfig{}.frame_step);
}

TEST(Weights, PredictWithAnOlderModelSaysHowToRetrain) {
  // A model.pt folder from before model.safetensors: one line saying what to do, no crash.
  testing::TempDir dir;
  auto net = random_cnn(plain_net(), 128, 108, 7);
  write_model_folder(dir / "old", net, true);
  write_audio(dir / "song.wav", testing::tone(12.0, 22050, 1, 440.0, 0.3), 22050);
  std::string out;
  EXPECT_NE(
      testing::run_saxdetect(
          "predict --model " + (dir / "old").string() + " " + (dir / "song.wav").string(), &out),
      0);
  EXPECT_NE(out.find((dir / "old").string()), std::string::npos) << out;
  EXPECT_NE(out.find("train a new one with `saxdetect train`"), std::string::npos) << out;
}

TEST(Weights, GarbledModelFileIsAClearErrorFromTheDetector) {
  testing::TempDir dir;
  auto net = random_cnn(plain_net(), 128, 108, 6);
  write_model_folder(dir / "m", net, false);
  std::ofstream(dir / "m" / kWeightsFile, std::ios::binary) << "garbage!garbage!";
  try {
    load_detector(dir / "m");
    FAIL() << "loaded a garbled file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors: not a valid weights file"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sax

// The "efficientat" training kind (model/efficientat.h), the default of `saxdetect train`: its
// zero head reproduces the zero-shot Saxophone logit, a short run saves a folder that loads, the
// unfrozen blocks are saved and nothing else, a model worse than zero-shot is not made current,
// and --kind cnn still trains the CNN. The library: 8 generated songs of 4 five-second samples,
// half a reedy harmonic tone ("sax"), half a low hum.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/home.h"
#include "infer/detector.h"
#include "model/efficientat.h"
#include "model/train.h"
#include "reed_songs.h"
#include "store/store.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::run_saxdetect;

constexpr int kRate = 16000, kSongs = 8, kSamplesPerSong = 4;
constexpr double kSampleSeconds = 5.0;

bool is_sax(int song, int k) { return testing::reed_song_is_sax(song, k); }

std::vector<float> song_audio(int song) {
  return testing::reed_song(song, kSamplesPerSong, kSampleSeconds, kRate, 3);
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::set<std::string> tensor_names(const fs::path& file) {
  const auto weights = WeightsFile::read(file);
  std::set<std::string> names;
  for (const auto& [name, tensor] : weights.tensors()) names.insert(name);
  return names;
}

// The runtime's loader (load_detector, LibTorch-free) scores a saved folder's windows as the
// trained LibTorch network does.
void expect_runtime_agrees(const fs::path& model, const fs::path& song) {
  auto scorer = load_detector(model);
  const auto audio = decode_mono(song, 32000);
  const size_t window = scorer->window_samples();
  ASSERT_GE(audio.size(), 2 * window);
  const std::vector<std::vector<float>> windows{
      {audio.begin(), audio.begin() + window},
      {audio.begin() + window, audio.begin() + 2 * window}};
  const auto runtime = scorer->score_windows(windows);
  auto net = read_efficientat_model(model);
  torch::NoGradGuard no_grad;
  const auto batch = torch::from_blob(const_cast<float*>(audio.data()), {2, int64_t(window)});
  const auto ours = torch::sigmoid(net->forward(efficientat_log_mels(batch)));
  ASSERT_EQ(runtime.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) EXPECT_NEAR(runtime[i], ours[i].item<float>(), 1e-4) << model;
}

std::string current_model(const fs::path& home) {
  std::ifstream in(home / "models" / "current");
  std::string name;
  std::getline(in, name);
  return name;
}

// Library written once; each test ingests it into its own home.
class EfficientatTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    fs::create_directories(library());
    for (int song = 0; song < kSongs; ++song)
      write_audio(library() / ("song" + std::to_string(song) + ".wav"), song_audio(song), kRate);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static fs::path library() { return *dir_ / "library"; }

  // A home holding the library, every sample labelled by its tone.
  fs::path labelled_home(const std::string& name) {
    const fs::path home = *dir_ / name;
    std::string out;
    EXPECT_EQ(
        run_saxdetect("--home " + home.string() + " --quiet ingest " + library().string(), &out), 0)
        << out;
    auto store = open_store(Home{home});
    for (const auto& s : store->samples()) {
      const int song =
          std::stoi(fs::path(store->source(s.source_id)->path).stem().string().substr(4));
      const int k = static_cast<int>(std::lround(s.start / kSampleSeconds));
      store->add_vote(s.id, "tester", is_sax(song, k) ? Label::sax : Label::not_sax);
    }
    return home;
  }

  int sd(const fs::path& home, const std::string& args, std::string* out) {
    return run_saxdetect("--home " + home.string() + " --quiet " + args, out);
  }

  fs::path write_config(const std::string& name, const nlohmann::json& config) {
    const auto path = *dir_ / name;
    std::ofstream(path) << config.dump();
    return path;
  }

  static testing::TempDir* dir_;
};

testing::TempDir* EfficientatTraining::dir_ = nullptr;

nlohmann::json quick_config(int epochs) {
  return {{"epochs", epochs}, {"batch_size", 8}, {"lr", 1e-2}, {"threads", 2}};
}

TEST(EfficientatHead, StartsAsTheZeroShotSaxophoneLogit) {
  torch::manual_seed(3);
  const auto log_mel = efficientat_log_mels(torch::randn({2, 32000}) * 0.1);
  torch::NoGradGuard no_grad;
  for (int unfreeze : {0, 2}) {
    EfficientatSaxNet net(efficientat_weights(), unfreeze);
    const auto zero_shot = net->body()->forward(log_mel).select(1, 197);
    EXPECT_TRUE(torch::equal(net->forward(log_mel), zero_shot)) << "unfreeze " << unfreeze;
    EXPECT_TRUE(torch::equal(net->forward(net->body()->hidden(log_mel)), zero_shot));
  }
}

TEST_F(EfficientatTraining, DefaultKindTrainsTheHeadAndSavesALoadableFolder) {
  const auto home = labelled_home("default");
  std::string out;
  ASSERT_EQ(sd(home, "train --out e1 --config " + write_config("e1.json", quick_config(3)).string(),
               &out),
            0)
      << out;
  EXPECT_NE(out.find("zero-shot"), std::string::npos) << out;
  const fs::path model = home / "models" / "e1";
  for (const char* file : {"model.safetensors", "model.json", "training.svg", "roc.svg"})
    EXPECT_TRUE(fs::is_regular_file(model / file)) << file << "\n" << out;
  const auto j = read_json(model / "model.json");
  EXPECT_EQ(j.at("kind"), "efficientat");
  EXPECT_EQ(j.at("efficientat").at("unfreeze"), 0);
  EXPECT_EQ(j.at("efficientat").at("saxophone_index"), 197);
  ASSERT_TRUE(j.contains("zero_shot")) << j.dump(2);
  EXPECT_FALSE(j.at("worse_than_zero_shot").get<bool>()) << j.at("zero_shot").dump(2);
  EXPECT_EQ(current_model(home), "e1");
  EXPECT_EQ(tensor_names(model / "model.safetensors"),
            (std::set<std::string>{"head.bias", "head.weight"}));

  // The saved head is what a loaded model scores with: trained, so no longer zero-shot.
  auto net = read_efficientat_model(model);
  torch::NoGradGuard no_grad;
  const auto hidden = torch::rand({3, efficientat::kHidden});
  EXPECT_FALSE(torch::allclose(net->forward(hidden),
                               EfficientatSaxNet(efficientat_weights(), 0)->forward(hidden)));
  expect_runtime_agrees(model, library() / "song0.wav");
}

TEST_F(EfficientatTraining, UnfreezeTrainsTheLastBlocksAndSavesOnlyThem) {
  const auto home = labelled_home("unfreeze");
  std::string out;
  ASSERT_EQ(sd(home,
               "train --unfreeze 1 --out u1 --config " +
                   write_config("u1.json", quick_config(1)).string(),
               &out),
            0)
      << out;
  const fs::path model = home / "models" / "u1";
  EXPECT_EQ(read_json(model / "model.json").at("efficientat").at("unfreeze"), 1);
  const std::set<std::string> expected{"head.weight",
                                       "head.bias",
                                       "classifier.2.weight",
                                       "classifier.2.bias",
                                       "features.16.0.weight",
                                       "features.16.1.weight",
                                       "features.16.1.bias",
                                       "features.16.1.running_mean",
                                       "features.16.1.running_var"};
  EXPECT_EQ(tensor_names(model / "model.safetensors"), expected);
  expect_runtime_agrees(model, library() / "song1.wav");
}

TEST_F(EfficientatTraining, KindCnnStillTrainsTheCnn) {
  const auto home = labelled_home("cnn");
  const nlohmann::json config = {{"features", {{"n_mels", 32}, {"frames", 27}}},
                                 {"net", {{"depth", 2}, {"channels", 4}, {"hidden", 16}}},
                                 {"epochs", 1},
                                 {"batch_size", 8},
                                 {"threads", 2}};
  std::string out;
  ASSERT_EQ(
      sd(home, "train --kind cnn --out c1 --config " + write_config("c1.json", config).string(),
         &out),
      0)
      << out;
  const auto j = read_json(home / "models" / "c1" / "model.json");
  EXPECT_EQ(j.at("kind"), "cnn");
  EXPECT_FALSE(j.contains("zero_shot"));
  EXPECT_EQ(current_model(home), "c1");
}

// Training labels inverted against the validation labels (the truth): the head learns the
// opposite of what the validation samples say, which the untrained model already ranks well.
TEST_F(EfficientatTraining, WorseThanZeroShotIsReportedAndNotMadeCurrent) {
  const auto home = labelled_home("worse");
  auto store = open_store(Home{home});
  TrainConfig config = nlohmann::json(quick_config(4)).get<TrainConfig>();
  config.weight_decay = 0;
  // Every song has two samples of each label, so inverting some keeps the split.
  const auto samples = store->labeled_samples();
  const auto split =
      grouped_split(samples, config.validation_fraction, config.test_fraction, config.split_seed);
  for (size_t i : split.train)
    store->add_vote(samples[i].sample.id, "tester",
                    samples[i].label == Label::sax ? Label::not_sax : Label::sax);
  TrainOptions options;
  options.name = "w1";
  options.quiet = true;
  const auto result = train_model(*store, Home{home}, config, options);
  ASSERT_TRUE(result.zero_shot.has_value());
  EXPECT_TRUE(result.worse_than_zero_shot())
      << "ROC-AUC " << result.validation.roc_auc << " against "
      << result.zero_shot->validation.roc_auc << ", loss "
      << result.zero_shot->trained_validation_loss << " against "
      << result.zero_shot->validation_loss;
  const auto j = read_json(home / "models" / "w1" / "model.json");
  EXPECT_TRUE(j.at("worse_than_zero_shot").get<bool>());
  EXPECT_TRUE(j.at("zero_shot").contains("validation_loss"));
  EXPECT_FALSE(fs::exists(home / "models" / "current"));
}

}  // namespace
}  // namespace sax

namespace sax {
namespace {

// cv beside zero-shot, fold by fold: the untrained model on each fold's test samples.
TEST_F(EfficientatTraining, CrossValidationReportsZeroShotOnTheSameFolds) {
  const auto home = labelled_home("cv");
  std::string out;
  const auto json = *dir_ / "cv.json";
  ASSERT_EQ(sd(home,
               "cv --folds 3 --json " + json.string() + " --config " +
                   write_config("cv-config.json", quick_config(2)).string(),
               &out),
            0)
      << out;
  EXPECT_NE(out.find("zero-shot on the same folds"), std::string::npos) << out;
  const auto cv = read_json(json);
  ASSERT_TRUE(cv.contains("zero_shot")) << cv.dump(2);
  ASSERT_EQ(cv.at("zero_shot").at("folds").size(), cv.at("folds").size());
  for (const auto& fold : cv.at("zero_shot").at("folds")) {
    EXPECT_GE(fold.at("roc_auc").get<double>(), 0.0);
    const auto& c = fold.at("confusion");
    EXPECT_GT(c.at("tp").get<int>() + c.at("fn").get<int>(), 0);  // test samples scored
  }
}

}  // namespace
}  // namespace sax

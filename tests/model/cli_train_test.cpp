// `saxdetect train`, `cv` and `search` as a user runs them, on a tiny labelled library built in
// the test: 10 songs of 4 five-second samples, half "sax" (a reedy harmonic tone), half not (a
// low hum with a little noise), ingested and labelled through the CLI. The config file keeps the
// model and the spectrograms small (32 mels x 27 frames) so each command takes seconds.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "model/train.h"
#include "reed_songs.h"
#include "support/testing.h"

namespace sax {
namespace {

namespace fs = std::filesystem;
using testing::run_saxdetect;
using testing::TempDir;

constexpr int kRate = 16000;
constexpr int kSongs = 10, kSamplesPerSong = 4;
constexpr double kSampleSeconds = 5.0;

bool is_sax(int song, int k) { return testing::reed_song_is_sax(song, k); }

std::vector<float> song_audio(int song) {
  return testing::reed_song(song, kSamplesPerSong, kSampleSeconds, kRate, 11);
}

nlohmann::json small_config_json(int n_mels = 32) {
  return {{"kind", "cnn"},
          {"features", {{"n_mels", n_mels}, {"frames", 27}}},
          {"net", {{"depth", 2}, {"channels", 4}, {"hidden", 16}, {"dropout", 0.1}}},
          {"epochs", 2},
          {"batch_size", 8},
          {"lr", 3e-3},
          {"threads", 1}};
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

// The shard files of a feature cache folder and their modification times.
std::map<std::string, fs::file_time_type> shard_files(const fs::path& dir) {
  std::map<std::string, fs::file_time_type> out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("shard-", 0) == 0)
      out[entry.path().filename().string()] = fs::last_write_time(entry.path());
  return out;
}

class CliTrain : public ::testing::Test {
 protected:
  // Writes the songs, ingests them and (when `label`) imports one vote per sample from a CSV.
  void SetUp() override {
    fs::create_directories(library());
    for (int song = 0; song < kSongs; ++song)
      write_audio(library() / ("song" + std::to_string(song) + ".wav"), song_audio(song), kRate);
    std::string out;
    ASSERT_EQ(
        run_saxdetect(home_flag() + " --quiet ingest --rate 16000 " + library().string(), &out), 0)
        << out;
    testing::write_bytes(config(), small_config_json().dump(2));
  }

  void label_all() {
    std::string csv = "source,start,label,annotator\n";
    for (int song = 0; song < kSongs; ++song)
      for (int k = 0; k < kSamplesPerSong; ++k)
        csv += (library() / ("song" + std::to_string(song) + ".wav")).string() + "," +
               std::to_string(k * kSampleSeconds) + "," + (is_sax(song, k) ? "sax" : "not_sax") +
               ",tester\n";
    testing::write_bytes(dir_ / "labels.csv", csv);
    std::string out;
    ASSERT_EQ(run_saxdetect(home_flag() + " labels import " + (dir_ / "labels.csv").string(), &out),
              0)
        << out;
    ASSERT_NE(out.find("imported 40 votes"), std::string::npos) << out;
  }

  fs::path library() const { return dir_ / "library"; }
  fs::path home() const { return dir_ / "home"; }
  fs::path config() const { return dir_ / "small.json"; }
  fs::path config_path(const std::string& name) const { return dir_ / name; }
  std::string home_flag() const { return "--home " + home().string(); }

  // Runs `saxdetect --home H --quiet <args>`; returns the exit status, output in *out.
  int saxdetect(const std::string& args, std::string* out) {
    return run_saxdetect(home_flag() + " --quiet " + args, out);
  }

  TempDir dir_;
};

TEST_F(CliTrain, TrainWritesTheModelFolderAndMakesItCurrent) {
  label_all();
  std::string out;
  ASSERT_EQ(saxdetect("train --epochs 2 --out m1 --config " + config().string(), &out), 0) << out;
  EXPECT_NE(out.find("test "), std::string::npos) << out;
  const fs::path model = home() / "models" / "m1";
  for (const char* file : {"model.safetensors", "model.json", "training.svg", "roc.svg"})
    EXPECT_TRUE(fs::is_regular_file(model / file)) << file << "\n" << out;
  std::ifstream current(home() / "models" / "current");
  std::string name;
  std::getline(current, name);
  EXPECT_EQ(name, "m1");

  const auto j = read_json(model / "model.json");
  ASSERT_TRUE(j.contains("threshold")) << j.dump(2);
  const double threshold = j["threshold"].get<double>();
  EXPECT_GE(threshold, 0.0);
  EXPECT_LE(threshold, 1.0);
  const auto& test = j.at("metrics").at("test");
  for (const char* metric : {"balanced_accuracy", "roc_auc", "accuracy", "threshold"}) {
    ASSERT_TRUE(test.contains(metric)) << metric;
    EXPECT_GE(test[metric].get<double>(), 0.0) << metric;
    EXPECT_LE(test[metric].get<double>(), 1.0) << metric;
  }
  // Every labelled sample was used exactly once, the test set holds whole songs.
  const auto& samples = j.at("samples");
  EXPECT_EQ(
      samples["train"].get<int>() + samples["validation"].get<int>() + samples["test"].get<int>(),
      kSongs * kSamplesPerSong);
  EXPECT_EQ(samples["test"].get<int>() % kSamplesPerSong, 0);
  EXPECT_GT(samples["test"].get<int>(), 0);
  EXPECT_EQ(j.at("history").size(), 2u);  // --epochs 2
  EXPECT_EQ(j.at("features").at("n_mels").get<int>(), 32);

  // The same name again is refused rather than overwritten.
  EXPECT_NE(saxdetect("train --epochs 2 --out m1 --config " + config().string(), &out), 0);
  EXPECT_NE(out.find("--resume"), std::string::npos) << out;
}

TEST_F(CliTrain, SeedsFlagTrainsEachSeedAndSaysWhichWasKept) {
  label_all();
  std::string out;
  ASSERT_EQ(
      saxdetect("train --epochs 1 --seed 5 --seeds 2 --out m2 --config " + config().string(), &out),
      0)
      << out;
  const auto j = read_json(home() / "models" / "m2" / "model.json");
  ASSERT_EQ(j.at("seed_runs").size(), 2u) << j.dump(2);
  EXPECT_EQ(j.at("seed_runs")[0].at("seed").get<int>(), 5);
  EXPECT_EQ(j.at("seed_runs")[1].at("seed").get<int>(), 6);
  const int kept = j.at("seed").get<int>();
  EXPECT_TRUE(kept == 5 || kept == 6) << kept;
  EXPECT_NE(out.find("seed " + std::to_string(kept) + ": best validation loss"), std::string::npos)
      << out;
  EXPECT_NE(out.find("(kept)"), std::string::npos) << out;
  EXPECT_EQ(out.find("(kept)"), out.rfind("(kept)")) << "more than one seed kept\n" << out;

  // A third seed later: --resume keeps seeds 5 and 6 as they are and trains seed 7 only.
  ASSERT_EQ(saxdetect("train --epochs 1 --seed 5 --seeds 3 --out m2 --resume --config " +
                          config().string(),
                      &out),
            0)
      << out;
  const auto more = read_json(home() / "models" / "m2" / "model.json");
  ASSERT_EQ(more.at("seed_runs").size(), 3u) << more.dump(2);
  EXPECT_EQ(more.at("seed_runs")[2].at("seed").get<int>(), 7);
  for (int k = 0; k < 2; ++k)
    EXPECT_EQ(more.at("seed_runs")[k], j.at("seed_runs")[k]) << "seed " << 5 + k << " changed";

  // Resuming with other settings would mix two runs in one model: refused, naming the change.
  EXPECT_NE(saxdetect("train --epochs 2 --seed 5 --seeds 4 --out m2 --resume --config " +
                          config().string(),
                      &out),
            0);
  EXPECT_NE(out.find("epochs (1 -> 2)"), std::string::npos) << out;
  EXPECT_EQ(read_json(home() / "models" / "m2" / "model.json"), more);
}

TEST_F(CliTrain, SaxTimesFromATruthFileTeachTheStepsAndGiveAStepThreshold) {
  // The songs' truth as `saxdetect synth` writes it: the sax samples' spans.
  nlohmann::json songs = nlohmann::json::array();
  for (int song = 0; song < kSongs; ++song) {
    nlohmann::json sax = nlohmann::json::array();
    for (int k = 0; k < kSamplesPerSong; ++k)
      if (is_sax(song, k)) sax.push_back({k * kSampleSeconds, (k + 1) * kSampleSeconds});
    songs.push_back({{"file", "song" + std::to_string(song) + ".wav"}, {"sax", sax}});
  }
  testing::write_bytes(library() / "truth.json", nlohmann::json{{"songs", songs}}.dump());
  std::string out;
  ASSERT_EQ(saxdetect("labels import --from-truth " + (library() / "truth.json").string(), &out), 0)
      << out;
  auto config = small_config_json();
  config["net"]["head"] = "frames";
  testing::write_bytes(config_path("frames.json"), config.dump());
  ASSERT_EQ(
      run_saxdetect(
          home_flag() + " train --out steps --config " + config_path("frames.json").string(), &out),
      0)
      << out;
  EXPECT_NE(out.find("40 of them have known sax times"), std::string::npos) << out;
  EXPECT_NE(out.find("time steps of the 40 samples with known sax times"), std::string::npos)
      << out;
  const auto j = read_json(home() / "models" / "steps" / "model.json");
  ASSERT_TRUE(j.contains("step_threshold")) << j.dump(2);
  EXPECT_EQ(j["step_threshold"], j.at("metrics").at("validation_steps").at("threshold"));
  EXPECT_GT(j.at("metrics").at("test_steps").at("confusion").at("tp").get<int>() +
                j.at("metrics").at("test_steps").at("confusion").at("fn").get<int>(),
            0);
}

TEST_F(CliTrain, FeatureCacheIsFilledReusedAndKeyedByTheFeatureConfig) {
  label_all();
  // The config's n_mels and frames at the rate and length the samples were ingested with.
  auto features = small_config_json().at("features").get<FeatureConfig>();
  features.sample_rate = kRate;
  features.seconds = kSampleSeconds;
  const fs::path cache = home() / "cache" / "features" / features.key();
  std::string out;
  ASSERT_EQ(saxdetect("train --out a --config " + config().string(), &out), 0) << out;
  ASSERT_TRUE(fs::is_directory(cache)) << cache;
  const auto first = shard_files(cache);
  ASSERT_FALSE(first.empty());
  // Each shard is raw float32 [n, n_mels, frames]; together they hold all 40 samples.
  uintmax_t bytes = 0;
  for (const auto& [name, time] : first)
    if (fs::path(name).extension() == ".bin") bytes += fs::file_size(cache / name);
  EXPECT_EQ(bytes, uintmax_t{kSongs * kSamplesPerSong} * 32 * 27 * sizeof(float));

  // A second run reads the cache: no shard is added or rewritten.
  ASSERT_EQ(saxdetect("train --out b --config " + config().string(), &out), 0) << out;
  EXPECT_EQ(shard_files(cache), first);

  // Another feature config gets a folder of its own; the first one is left as it was.
  testing::write_bytes(dir_ / "other.json", small_config_json(24).dump(2));
  ASSERT_EQ(saxdetect("train --out c --config " + (dir_ / "other.json").string(), &out), 0) << out;
  auto other = features;
  other.n_mels = 24;
  ASSERT_NE(other.key(), features.key());
  const fs::path other_cache = home() / "cache" / "features" / other.key();
  EXPECT_FALSE(shard_files(other_cache).empty());
  EXPECT_EQ(shard_files(cache), first);
  std::set<std::string> folders;
  for (const auto& entry : fs::directory_iterator(home() / "cache" / "features"))
    folders.insert(entry.path().filename().string());
  EXPECT_EQ(folders, (std::set<std::string>{features.key(), other.key()}));
}

TEST_F(CliTrain, CrossValidationReportsEveryFoldWithMeanAndSpread) {
  label_all();
  std::string out;
  const fs::path json_out = dir_ / "cv.json";
  ASSERT_EQ(saxdetect("cv --folds 3 --config " + config().string() + " --json " + json_out.string(),
                      &out),
            0)
      << out;
  EXPECT_NE(out.find("3-fold grouped cross-validation"), std::string::npos) << out;
  EXPECT_NE(out.find("balanced_accuracy"), std::string::npos) << out;
  EXPECT_NE(out.find("+/-"), std::string::npos) << out;
  const auto cv = read_json(json_out);
  ASSERT_EQ(cv.at("folds").size(), 3u) << cv.dump(2);
  // The mean and spread are those of the folds.
  double sum = 0, sq = 0;
  for (const auto& fold : cv["folds"]) {
    const double b = fold.at("balanced_accuracy").get<double>();
    EXPECT_GE(b, 0.0);
    EXPECT_LE(b, 1.0);
    sum += b, sq += b * b;
  }
  const double mean = sum / 3, spread = std::sqrt(std::max(0.0, sq / 3 - mean * mean));
  EXPECT_NEAR(cv.at("mean").at("balanced_accuracy").get<double>(), mean, 1e-9);
  EXPECT_NEAR(cv.at("spread").at("balanced_accuracy").get<double>(), spread, 1e-9);

  EXPECT_NE(saxdetect("cv --folds 2 --config " + config().string(), &out), 0);
}

TEST_F(CliTrain, GridSearchVisitsEveryPointAndWritesTheBestConfig) {
  label_all();
  testing::write_bytes(dir_ / "grid.json", R"({"lr": [0.003, 0.001], "net.channels": [4, 6]})");
  std::string out;
  ASSERT_EQ(saxdetect("search --grid " + (dir_ / "grid.json").string() + " --folds 3 --config " +
                          config().string() + " --out grid",
                      &out),
            0)
      << out;
  EXPECT_NE(out.find("4 configurations x 3 folds"), std::string::npos) << out;
  const auto results = read_json(home() / "reports" / "grid" / "results.json");
  ASSERT_EQ(results.size(), 4u) << results.dump(2);
  std::set<std::string> visited;
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].at("rank").get<size_t>(), i + 1);
    EXPECT_EQ(results[i].at("cv").at("folds").size(), 3u);
    visited.insert(results[i].at("overrides").dump());
    if (i > 0) {  // best first
      EXPECT_GE(results[i - 1]["cv"]["mean"]["balanced_accuracy"].get<double>(),
                results[i]["cv"]["mean"]["balanced_accuracy"].get<double>());
    }
  }
  EXPECT_EQ(visited, (std::set<std::string>{
                         R"({"lr":0.003,"net.channels":4})", R"({"lr":0.003,"net.channels":6})",
                         R"({"lr":0.001,"net.channels":4})", R"({"lr":0.001,"net.channels":6})"}));

  // best-config.json is the base config with the winner's overrides, ready for `train`.
  const auto best = load_train_config(home() / "reports" / "grid" / "best-config.json");
  EXPECT_DOUBLE_EQ(best.lr, results[0]["overrides"]["lr"].get<double>());
  EXPECT_EQ(best.net.channels, results[0]["overrides"]["net.channels"].get<int>());
  EXPECT_EQ(best.features.n_mels, 32);
  EXPECT_EQ(best.epochs, 2);
}

TEST_F(CliTrain, RandomSearchRunsTheRequestedTrials) {
  label_all();
  testing::write_bytes(
      dir_ / "space.json",
      R"({"lr": {"min": 0.0005, "max": 0.005, "log": true}, "net.hidden": [8, 16]})");
  std::string out;
  ASSERT_EQ(saxdetect("search --random " + (dir_ / "space.json").string() +
                          " --trials 3 --folds 3 --config " + config().string() + " --out random",
                      &out),
            0)
      << out;
  EXPECT_NE(out.find("3 configurations x 3 folds"), std::string::npos) << out;
  const auto results = read_json(home() / "reports" / "random" / "results.json");
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    const double lr = r.at("overrides").at("lr").get<double>();
    EXPECT_GE(lr, 0.0005);
    EXPECT_LE(lr, 0.005);
    const int hidden = r["overrides"].at("net.hidden").get<int>();
    EXPECT_TRUE(hidden == 8 || hidden == 16) << hidden;
  }
  EXPECT_TRUE(fs::is_regular_file(home() / "reports" / "random" / "best-config.json"));

  // Neither or both of --grid and --random is refused.
  EXPECT_NE(saxdetect("search --config " + config().string(), &out), 0);
  EXPECT_NE(out.find("--grid"), std::string::npos) << out;
}

TEST_F(CliTrain, TrainWithoutLabelsSaysHowToGetThem) {
  std::string out;
  EXPECT_NE(saxdetect("train --config " + config().string(), &out), 0);
  EXPECT_NE(out.find("labelled samples"), std::string::npos) << out;
  EXPECT_NE(out.find("saxdetect serve"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(home() / "models" / "current"));
  EXPECT_NE(saxdetect("cv --folds 3 --config " + config().string(), &out), 0);
  EXPECT_NE(out.find("labelled samples"), std::string::npos) << out;
}

TEST_F(CliTrain, MalformedConfigNamesTheFile) {
  label_all();
  const fs::path broken = dir_ / "broken.json", unknown = dir_ / "unknown.json";
  testing::write_bytes(broken, R"({"epochs": 2,)");
  testing::write_bytes(unknown, R"({"epochz": 2})");
  std::string out;
  EXPECT_NE(saxdetect("train --config " + broken.string(), &out), 0);
  EXPECT_NE(out.find(broken.string()), std::string::npos) << out;
  EXPECT_NE(out.find("not valid JSON"), std::string::npos) << out;
  EXPECT_NE(saxdetect("train --config " + unknown.string(), &out), 0);
  EXPECT_NE(out.find(unknown.string()), std::string::npos) << out;
  EXPECT_NE(out.find("epochz"), std::string::npos) << out;
  EXPECT_NE(saxdetect("cv --folds 3 --config " + broken.string(), &out), 0);
  EXPECT_NE(out.find(broken.string()), std::string::npos) << out;
  EXPECT_NE(saxdetect("train --config " + (dir_ / "missing.json").string(), &out), 0);
  EXPECT_NE(out.find("missing.json"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(home() / "models" / "current"));
}

}  // namespace
}  // namespace sax

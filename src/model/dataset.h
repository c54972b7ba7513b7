#pragma once
// Features for training, computed once and kept on disk (LibTorch; internal).
//
// home/cache/features/<FeatureExtractor::key()>/ holds shards: shard-*.bin is raw float32
// features [n, shape...] (for the CNN log-mel [n, n_mels, frames], not normalised, so
// augmentation can act before normalisation), shard-*.idx the n sample hashes in the same order.
// Shards are memory-mapped, so the cache may be larger than RAM; a new config gets a new folder, so
// nothing goes stale. Writers publish a shard by renaming it into place (.bin before .idx): readers
// never see a half-written one, and an interrupted run loses at most one shard of work.
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "common/home.h"
#include "infer/features.h"
#include "store/store.h"

namespace sax {

// What is computed from each sample's audio and cached: the CNN's log-mel, or EfficientAT's
// log-mel or hidden vectors (efficientat.h).
class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  virtual std::string key() const = 0;  // names the cache folder: changes with every setting
  virtual nlohmann::json describe() const = 0;     // written to the folder's config.json
  virtual int sample_rate() const = 0;             // the audio is decoded at this rate ...
  virtual size_t window_samples() const = 0;       // ... cut or zero-padded to this length
  virtual std::vector<int64_t> shape() const = 0;  // of one sample's features
  // [n, window_samples()] audio -> [n, shape()...] features.
  virtual torch::Tensor compute(const torch::Tensor& audio) = 0;
};

// The CNN's input: log-mel spectrograms [n_mels, frames] (features.h).
class LogMelExtractor : public FeatureExtractor {
 public:
  explicit LogMelExtractor(FeatureConfig config) : config_(std::move(config)) {}
  std::string key() const override { return config_.key(); }
  nlohmann::json describe() const override;
  int sample_rate() const override { return config_.sample_rate; }
  size_t window_samples() const override { return config_.window_samples(); }
  std::vector<int64_t> shape() const override { return {config_.n_mels, config_.frames}; }
  torch::Tensor compute(const torch::Tensor& audio) override;

 private:
  FeatureConfig config_;
};

class FeatureCache {
 public:
  FeatureCache(const Home& home, std::unique_ptr<FeatureExtractor> extractor);
  FeatureCache(const Home& home, FeatureConfig config)  // the CNN's log-mel
      : FeatureCache(home, std::make_unique<LogMelExtractor>(std::move(config))) {}
  ~FeatureCache();
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // Computes and stores features for the samples not yet cached (decoding home/<path>), with
  // progress. Throws sax::Error naming a clip that cannot be decoded.
  void ensure(const std::vector<Sample>& samples, bool quiet);
  bool contains(const Sample& sample) const;

  // Raw features [n, shape...] for cached samples, in the given order.
  torch::Tensor get(const std::vector<const Sample*>& samples) const;

 private:
  struct Shard;
  struct Slot {
    size_t shard = 0, index = 0;
  };
  void load_shards();
  void write_shard(const torch::Tensor& features, const std::vector<std::string>& keys);

  size_t floats_per_sample() const;

  Home home_;
  std::unique_ptr<FeatureExtractor> extractor_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unordered_map<std::string, Slot> slots_;
};

// The identity of a sample's audio in the cache: its PCM hash (its path when unhashed).
std::string cache_key(const Sample& sample);

}  // namespace sax

#pragma once
// Log-mel features for training, computed once and kept on disk (LibTorch; internal).
//
// home/cache/features/<FeatureConfig::key()>/ holds shards: shard-*.bin is raw float32
// spectrograms [n, n_mels, frames] (log-mel, not normalised, so augmentation can act before
// normalisation), shard-*.idx the n sample hashes in the same order. Shards are memory-mapped,
// so the cache may be larger than RAM; a new config gets a new folder, so nothing goes stale.
// Writers publish a shard by renaming it into place (.bin before .idx): readers never see a
// half-written one, and an interrupted run loses at most one shard of work.
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>

#include "common/home.h"
#include "model/features.h"
#include "store/store.h"

namespace sax {

class FeatureCache {
 public:
  FeatureCache(const Home& home, FeatureConfig config);
  ~FeatureCache();
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // Computes and stores features for the samples not yet cached (decoding home/<path>), with
  // progress. Throws sax::Error naming a clip that cannot be decoded.
  void ensure(const std::vector<Sample>& samples, bool quiet);
  bool contains(const Sample& sample) const;

  // Raw log-mel [n, n_mels, frames] for cached samples, in the given order.
  torch::Tensor get(const std::vector<const Sample*>& samples) const;

 private:
  struct Shard;
  struct Slot {
    size_t shard = 0, index = 0;
  };
  void load_shards();
  void write_shard(const torch::Tensor& features, const std::vector<std::string>& keys);

  Home home_;
  FeatureConfig config_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unordered_map<std::string, Slot> slots_;
};

// The identity of a sample's audio in the cache: its PCM hash (its path when unhashed).
std::string cache_key(const Sample& sample);

}  // namespace sax

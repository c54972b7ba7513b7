#include "model/dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "common/error.h"
#include "common/files.h"
#include "common/progress.h"
#include "model/mel.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

// Samples per shard: ~55 MB at the default resolution, few files even for huge libraries.
constexpr size_t kShardSamples = 1000;
// Clips decoded and transformed together (one batch of windows, log-mels in parallel).
constexpr size_t kComputeBatch = 32;

std::string unique_shard_name() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  static int counter = 0;
  return fmt::format("shard-{}-{}-{}",
                     std::chrono::duration_cast<std::chrono::microseconds>(now).count(), getpid(),
                     counter++);
}

}  // namespace

std::string cache_key(const Sample& sample) {
  return sample.hash.empty() ? "path:" + sample.path : sample.hash;
}

// A read-only memory map of one shard's floats.
struct FeatureCache::Shard {
  const float* data = nullptr;
  size_t bytes = 0;
  ~Shard() {
    if (data) munmap(const_cast<float*>(data), bytes);
  }
};

nlohmann::json LogMelExtractor::describe() const { return config_; }

torch::Tensor LogMelExtractor::compute(const torch::Tensor& audio) {
  return mel::log_mel_windows(audio, config_);
}

FeatureCache::FeatureCache(const Home& home, std::unique_ptr<FeatureExtractor> extractor)
    : home_(home),
      extractor_(std::move(extractor)),
      dir_(home.cache() / "features" / extractor_->key()) {
  fs::create_directories(dir_);
  const nlohmann::json description = extractor_->describe();
  const auto config_file = dir_ / "config.json";
  if (!fs::exists(config_file)) {
    const std::string text = description.dump(2);
    write_file_atomically(config_file, text.data(), text.size());
  }
  load_shards();
}

FeatureCache::~FeatureCache() = default;

size_t FeatureCache::floats_per_sample() const {
  size_t n = 1;
  for (int64_t d : extractor_->shape()) n *= static_cast<size_t>(d);
  return n;
}

void FeatureCache::load_shards() {
  const size_t floats_per_sample = this->floats_per_sample();
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() != ".idx") continue;
    auto bin = entry.path();
    bin.replace_extension(".bin");
    std::ifstream idx(entry.path());
    std::vector<std::string> keys;
    for (std::string line; std::getline(idx, line);) keys.push_back(line);
    const int fd = open(bin.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 ||
        static_cast<size_t>(st.st_size) != keys.size() * floats_per_sample * sizeof(float)) {
      if (fd >= 0) close(fd);
      spdlog::warn("{}: damaged feature shard ignored (it will be recomputed)", bin.string());
      continue;
    }
    auto shard = std::make_unique<Shard>();
    shard->bytes = static_cast<size_t>(st.st_size);
    void* map = keys.empty() ? nullptr : mmap(nullptr, shard->bytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
      throw Error(fmt::format("{}: cannot memory-map the feature shard", bin.string()));
    shard->data = static_cast<const float*>(map);
    for (size_t i = 0; i < keys.size(); ++i) slots_[keys[i]] = Slot{shards_.size(), i};
    shards_.push_back(std::move(shard));
  }
}

bool FeatureCache::contains(const Sample& sample) const {
  return slots_.count(cache_key(sample)) > 0;
}

void FeatureCache::write_shard(const torch::Tensor& features,
                               const std::vector<std::string>& keys) {
  const auto name = unique_shard_name();
  const auto data = features.contiguous();
  write_file_atomically(dir_ / (name + ".bin"), data.data_ptr<float>(),
                        data.numel() * sizeof(float));
  std::string index;
  for (const auto& k : keys) index += k + "\n";
  write_file_atomically(dir_ / (name + ".idx"), index.data(), index.size());
}

void FeatureCache::ensure(const std::vector<Sample>& samples, bool quiet) {
  std::vector<const Sample*> missing;
  std::unordered_map<std::string, bool> queued;
  for (const auto& s : samples)
    if (!contains(s) && !queued[cache_key(s)]) missing.push_back(&s), queued[cache_key(s)] = true;
  if (missing.empty()) return;
  spdlog::info("computing features for {} samples into {}", missing.size(), dir_.string());
  Progress progress("features", missing.size(),
                    quiet ? Progress::Mode::never : Progress::Mode::automatic);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pending;
  std::vector<std::string> pending_keys;
  const auto length = static_cast<int64_t>(extractor_->window_samples());
  const double seconds = static_cast<double>(length) / extractor_->sample_rate();
  for (size_t first = 0; first < missing.size(); first += kComputeBatch) {
    const size_t n = std::min(kComputeBatch, missing.size() - first);
    auto audio = torch::zeros({static_cast<int64_t>(n), length});
    for (size_t i = 0; i < n; ++i) {
      const Sample& s = *missing[first + i];
      std::vector<float> pcm;
      try {
        pcm = decode_mono(home_.inside(s.path), extractor_->sample_rate());
      } catch (const Error& e) {
        throw Error(fmt::format("sample {}: {}", s.id, e.what()));
      }
      std::memcpy(audio[static_cast<int64_t>(i)].data_ptr<float>(), pcm.data(),
                  std::min<size_t>(pcm.size(), length) * sizeof(float));
      pending_keys.push_back(cache_key(s));
    }
    pending.push_back(extractor_->compute(audio).to(torch::kCPU));
    progress.advance(n, static_cast<double>(n) * seconds);
    if (pending_keys.size() >= kShardSamples || first + n == missing.size()) {
      write_shard(torch::cat(pending, 0), pending_keys);
      pending.clear();
      pending_keys.clear();
    }
  }
  progress.finish();
  shards_.clear();
  slots_.clear();
  load_shards();
}

torch::Tensor FeatureCache::get(const std::vector<const Sample*>& samples) const {
  const size_t floats = floats_per_sample();
  auto shape = extractor_->shape();
  shape.insert(shape.begin(), static_cast<int64_t>(samples.size()));
  auto out = torch::empty(shape);
  float* dst = out.data_ptr<float>();
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto it = slots_.find(cache_key(*samples[i]));
    if (it == slots_.end())
      throw Error(
          fmt::format("sample {}: no cached features in {}", samples[i]->id, dir_.string()));
    const float* src = shards_[it->second.shard]->data + it->second.index * floats;
    std::memcpy(dst + i * floats, src, floats * sizeof(float));
  }
  return out;
}

}  // namespace sax

#pragma once
// Spectrogram pictures for the labelling page: the sample's log-mel spectrogram (the same
// features the CNN sees, default FeatureConfig) as a magma PNG, computed on first request and
// cached in home/cache/spectrograms/<feature key>/ so later visits cost one file read.
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/home.h"
#include "infer/features.h"
#include "store/store.h"

namespace sax::web {

class SpectrogramCache {
 public:
  explicit SpectrogramCache(Home home, FeatureConfig config = {});

  // PNG bytes for the sample (computed and cached when missing). Throws sax::Error when its
  // audio cannot be read.
  std::string png(const Sample& sample) const;
  std::filesystem::path cached_file(const Sample& sample) const;

 private:
  std::string render(const Sample& sample) const;

  Home home_;
  FeatureConfig config_;
  std::filesystem::path folder_;
};

}  // namespace sax::web

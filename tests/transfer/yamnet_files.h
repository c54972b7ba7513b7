#pragma once
// Where the transfer tests find YAMNet (../shared/models/yamnet); tests skip when it is absent.
#include <filesystem>

namespace sax::testing {

inline std::filesystem::path yamnet_dir() {
  return std::filesystem::path(SAXDETECT_SHARED_DIR) / "models" / "yamnet";
}
inline std::filesystem::path yamnet_tflite() { return yamnet_dir() / "yamnet.tflite"; }

}  // namespace sax::testing

#define SKIP_WITHOUT_YAMNET()                                                          \
  do {                                                                                 \
    if (!std::filesystem::exists(sax::testing::yamnet_tflite())) {                     \
      GTEST_SKIP() << "no " << sax::testing::yamnet_tflite() << " (../shared absent)"; \
    }                                                                                  \
  } while (0)

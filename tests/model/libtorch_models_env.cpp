// Every test in test_model may load a backbone model or an older CNN folder (model.pt) through
// load_detector, as saxdetect-torch can: install the LibTorch loader once for the whole run.
#include <gtest/gtest.h>

#include "model/libtorch_models.h"

namespace {

class LibTorchModels : public ::testing::Environment {
 public:
  void SetUp() override { sax::install_libtorch_models(); }
};

const auto* const kLibTorchModels = ::testing::AddGlobalTestEnvironment(new LibTorchModels);

}  // namespace

#pragma once
// Tests that render need the two Debian soundfonts (scripts/setup.sh installs them).
#include <filesystem>

#include "synth/synth.h"

inline bool have_soundfonts() {
  return std::filesystem::exists(sax::synth::kFluidR3) &&
         std::filesystem::exists(sax::synth::kMuseScore);
}

#define REQUIRE_SOUNDFONTS() \
  if (!have_soundfonts())    \
  GTEST_SKIP() << "fluid-soundfont-gm / musescore-general-soundfont not installed"

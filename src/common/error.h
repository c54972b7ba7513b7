#pragma once
// One exception type for every failure a user can cause (bad file, bad field, bad option).
// The message always names the thing at fault, so the CLI can print it as one clear line.
#include <stdexcept>
#include <string>

namespace sax {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown where LibTorch-free code meets a command only LibTorch can run (training). Not a
// sax::Error, so no command reports it as a failure: the LibTorch-free `saxdetect` runs the same
// command line again in `saxdetect-torch` instead (src/cli/main.cpp). The message says what needed
// LibTorch.
class NeedsLibTorch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sax

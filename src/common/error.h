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

}  // namespace sax

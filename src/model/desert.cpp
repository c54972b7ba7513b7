#include "model/desert.h"

#include <cmath>

namespace sax {

bool DesertDetector::update(double validation_loss, double balanced_accuracy) {
  const double ln2 = std::log(2.0);
  learned_ = learned_ || validation_loss < ln2 - config_.tolerance;
  const bool at_ln2 = std::abs(validation_loss - ln2) < config_.tolerance;
  const bool at_chance = std::abs(balanced_accuracy - 0.5) <= 0.05;
  stuck_ = at_ln2 && at_chance && !learned_ ? stuck_ + 1 : 0;
  return stuck_ >= config_.epochs;
}

}  // namespace sax

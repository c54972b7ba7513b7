#pragma once
// The 0.693 desert: a run whose validation loss sits at ln 2 with chance-level predictions.
#include "model/config.h"

namespace sax {

// Fed once per epoch; fires after `epochs` consecutive epochs with the validation loss within
// tolerance of ln 2 AND chance-level predictions (balanced accuracy within 0.05 of 0.5), in a
// run that has never got below ln 2 - tolerance. A run that learned and then drifted back is not
// in the desert: a restart would throw away a useful best checkpoint (early stopping ends it).
class DesertDetector {
 public:
  explicit DesertDetector(DesertConfig config) : config_(config) {}
  bool update(double validation_loss, double balanced_accuracy);
  int stuck_epochs() const { return stuck_; }

 private:
  DesertConfig config_;
  int stuck_ = 0;
  bool learned_ = false;
};

}  // namespace sax

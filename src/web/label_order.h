#pragma once
// Which clips people label first: those the model in use is least sure about (active learning),
// from the first label on. Before any training that model is the built-in detector; while the
// server runs, a background job scores the samples the model has not scored yet, and each batch
// counts as soon as it is stored.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "common/home.h"

namespace sax {
class Scorer;
class Store;
}  // namespace sax

namespace sax::web {

// The name the built-in detector's predictions are stored under.
inline const char* const kBuiltinModelName = "builtin";

// The model whose predictions order labelling: the current trained model, else the built-in one.
std::string labelling_model(const Home& home);

// Scores the non-silent samples `model` has no prediction for yet, `batch` at a time, and stores
// them (as uncertainty_score: re-centred on the scorer's threshold). Stops between batches when
// `stop` is set. A sample whose audio cannot be read is skipped with a warning. Returns how many
// samples were scored.
size_t predict_unscored_samples(Store& store, const Home& home, Scorer& scorer,
                                const std::string& model, const std::atomic<bool>& stop,
                                size_t batch = 32);

// Runs predict_unscored_samples for the labelling model on a background thread now and every
// `interval` seconds (new samples, a newly trained model), until destroyed.
class LabelOrderJob {
 public:
  LabelOrderJob(Store& store, Home home, double interval = 60);
  ~LabelOrderJob();
  LabelOrderJob(const LabelOrderJob&) = delete;
  LabelOrderJob& operator=(const LabelOrderJob&) = delete;

 private:
  void run();
  void score_once();

  Store& store_;
  Home home_;
  double interval_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace sax::web

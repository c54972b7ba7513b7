#include "model/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/progress.h"
#include "model/mel.h"
#include "plot/svg.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kEvalBatch = 128;
const double kLn10 = std::log(10.0);
const double kPi = std::acos(-1.0);

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string serialise(Cnn& net) {
  std::ostringstream out;
  torch::save(net, out);
  return out.str();
}

void deserialise(Cnn& net, const std::string& bytes) {
  std::istringstream in(bytes);
  torch::load(net, in);
}

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out) throw Error(fmt::format("{}: cannot write", tmp.string()));
  }
  fs::rename(tmp, path);
}

// Class weights that make a constant 0.5 prediction cost exactly ln 2 whatever the balance,
// so the loss means the same on every data set and the desert sits at ln 2.
struct ClassWeights {
  double sax = 1, not_sax = 1;
};
ClassWeights balance(const std::vector<int>& labels, const std::vector<size_t>& indices) {
  double sax = 0;
  for (size_t i : indices) sax += labels[i];
  const double n = static_cast<double>(indices.size());
  if (sax == 0 || sax == n) return {};
  return {n / (2 * sax), n / (2 * (n - sax))};
}

torch::Tensor weighted_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                            ClassWeights w) {
  const auto weights = targets * w.sax + (1 - targets) * w.not_sax;
  return torch::nn::functional::binary_cross_entropy_with_logits(
      logits, targets,
      torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().weight(weights));
}

torch::Tensor label_tensor(const std::vector<int>& labels, const std::vector<size_t>& indices) {
  auto t = torch::empty({static_cast<int64_t>(indices.size())});
  for (size_t i = 0; i < indices.size(); ++i)
    t[static_cast<int64_t>(i)] = static_cast<float>(labels[indices[i]]);
  return t;
}

double beta_sample(std::mt19937_64& rng, double alpha) {
  std::gamma_distribution<double> gamma(alpha, 1.0);
  const double a = gamma(rng), b = gamma(rng);
  return a + b > 0 ? a / (a + b) : 0.5;
}

// Training-time augmentation of a raw log-mel batch [b, rows, cols]; returns the normalised
// batch and (possibly mixed) targets.
std::pair<torch::Tensor, torch::Tensor> augment(torch::Tensor x, torch::Tensor y,
                                                const TrainConfig& config, std::mt19937_64& rng) {
  const auto& a = config.augment;
  if (!a.enabled) return {mel::normalise(x, config.features), y};
  const int64_t b = x.size(0), rows = x.size(1), cols = x.size(2);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  // Gain and tilt act in dB on power, i.e. additively on the natural-log mel energies.
  const auto ramp = torch::linspace(-0.5, 0.5, rows).view({1, rows, 1});
  auto offsets = torch::empty({b, 1, 1}), tilts = torch::empty({b, 1, 1});
  for (int64_t i = 0; i < b; ++i) {
    offsets[i] = unit(rng) * a.gain_db * kLn10 / 10;
    tilts[i] = unit(rng) * a.tilt_db * kLn10 / 10;
  }
  x = x + offsets + tilts * ramp;
  if (a.max_shift > 0) {
    std::uniform_int_distribution<int> shift(-a.max_shift, a.max_shift);
    std::vector<torch::Tensor> rolled;
    for (int64_t i = 0; i < b; ++i) rolled.push_back(torch::roll(x[i], {shift(rng)}, {1}));
    x = torch::stack(rolled);
  }
  x = mel::normalise(x, config.features).clone();
  // SpecAugment: zero (the normalised mean) random spans of time and of mel bands.
  auto mask = [&](int64_t dim, int count, int widest, int64_t size) {
    std::uniform_int_distribution<int> width(
        0, std::max(0, std::min<int>(widest, static_cast<int>(size) - 1)));
    for (int64_t i = 0; i < b; ++i)
      for (int m = 0; m < count; ++m) {
        const int w = width(rng);
        const int start = std::uniform_int_distribution<int>(0, static_cast<int>(size) - w)(rng);
        if (w > 0) x[i].narrow(dim - 1, start, w).zero_();
      }
  };
  mask(2, a.time_masks, a.time_mask_max, cols);
  mask(1, a.freq_masks, a.freq_mask_max, rows);
  if (a.mixup_alpha > 0) {
    const double lambda = beta_sample(rng, a.mixup_alpha);
    std::vector<int64_t> order(static_cast<size_t>(b));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const auto perm = torch::tensor(order);
    x = lambda * x + (1 - lambda) * x.index_select(0, perm);
    y = lambda * y + (1 - lambda) * y.index_select(0, perm);
  }
  return {x, y};
}

double learning_rate(const TrainConfig& c, int epoch /*0-based*/) {
  if (c.schedule == "cosine") return c.lr * 0.5 * (1 + std::cos(kPi * epoch / c.epochs));
  if (c.schedule == "step") return c.lr * std::pow(0.5, epoch / 8);
  return c.lr;
}

void set_learning_rate(torch::optim::Adam& optimiser, double lr) {
  for (auto& group : optimiser.param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

struct Evaluation {
  std::vector<float> probabilities;
  double loss = 0;  // class-weighted, like the training loss
};

Evaluation evaluate(Cnn& net, const FeatureSource& data, const std::vector<int>& labels,
                    const std::vector<size_t>& indices, const FeatureConfig& features,
                    ClassWeights w) {
  Evaluation e;
  e.probabilities = predict(net, data, indices, features);
  double sum = 0;
  for (size_t i = 0; i < indices.size(); ++i) {
    const double p = std::clamp(static_cast<double>(e.probabilities[i]), 1e-7, 1 - 1e-7);
    sum -= labels[indices[i]] == 1 ? w.sax * std::log(p) : w.not_sax * std::log(1 - p);
  }
  e.loss = indices.empty() ? 0 : sum / static_cast<double>(indices.size());
  return e;
}

std::vector<int> labels_of(const std::vector<int>& labels, const std::vector<size_t>& indices) {
  std::vector<int> out;
  for (size_t i : indices) out.push_back(labels[i]);
  return out;
}

enum class RunEnd { finished, early_stopped, desert, interrupted };

struct Run {
  RunEnd end = RunEnd::finished;
  std::vector<EpochRecord> history;
  std::string best_state;
  double best_loss = INFINITY;
  int best_epoch = 0;
  double train_seconds = 0;
  size_t trained_samples = 0;
};

// State saved each epoch so --resume can continue an interrupted run.
struct Checkpoint {
  fs::path dir;
  bool enabled() const { return !dir.empty(); }
  fs::path state() const { return dir / "state.pt"; }
  fs::path optimiser() const { return dir / "optimiser.pt"; }
  fs::path best() const { return dir / "best.pt"; }
  fs::path json() const { return dir / "checkpoint.json"; }
};

void save_checkpoint(const Checkpoint& cp, Cnn& net, torch::optim::Adam& optimiser, const Run& run,
                     uint64_t seed, int since_best) {
  if (!cp.enabled()) return;
  fs::create_directories(cp.dir);
  torch::save(net, cp.state().string());
  torch::save(optimiser, cp.optimiser().string());
  write_text(cp.best(), run.best_state);
  const nlohmann::json j = {{"seed", seed},
                            {"history", run.history},
                            {"best_loss", run.best_loss},
                            {"best_epoch", run.best_epoch},
                            {"since_best", since_best}};
  write_text(cp.json(), j.dump(1));
}

// Restores a run from the checkpoint; returns the epochs without improvement so far.
int load_checkpoint(const Checkpoint& cp, Cnn& net, torch::optim::Adam& optimiser, Run& run,
                    uint64_t seed) {
  std::ifstream in(cp.json());
  const auto j = nlohmann::json::parse(in);
  if (j.at("seed").get<uint64_t>() != seed)
    throw Error(fmt::format("{}: saved for seed {}, not {}", cp.json().string(),
                            j.at("seed").get<uint64_t>(), seed));
  torch::load(net, cp.state().string());
  torch::load(optimiser, cp.optimiser().string());
  std::ifstream best(cp.best(), std::ios::binary);
  run.best_state.assign(std::istreambuf_iterator<char>(best), {});
  run.history = j.at("history").get<std::vector<EpochRecord>>();
  run.best_loss = j.at("best_loss").get<double>();
  run.best_epoch = j.at("best_epoch").get<int>();
  spdlog::info("resuming from {} after epoch {}", cp.dir.string(), run.history.size());
  return j.at("since_best").get<int>();
}

// One training run from one seed: epochs with early stopping and desert detection.
Run run_once(const FeatureSource& data, const std::vector<int>& labels, const Split& split,
             const TrainConfig& config, uint64_t seed, const Checkpoint& checkpoint, bool resume,
             const TrainOptions& options) {
  torch::manual_seed(seed);
  std::mt19937_64 rng(seed);
  Cnn net(config.net, config.features.n_mels, config.features.frames);
  kaiming_init(*net);
  torch::optim::Adam optimiser(
      net->parameters(), torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  Run run;
  int since_best = 0;
  if (resume && fs::exists(checkpoint.json()))
    since_best = load_checkpoint(checkpoint, net, optimiser, run, seed);
  const ClassWeights weights = balance(labels, split.train);
  DesertDetector desert(config.desert);
  for (const auto& e : run.history)
    desert.update(e.validation_loss, e.validation_balanced_accuracy);
  auto order = split.train;
  const auto validation_labels = labels_of(labels, split.validation);

  for (int epoch = static_cast<int>(run.history.size()); epoch < config.epochs; ++epoch) {
    const auto started = Clock::now();
    const double lr = learning_rate(config, epoch);
    set_learning_rate(optimiser, lr);
    std::shuffle(order.begin(), order.end(), rng);
    net->train();
    Progress progress(fmt::format("epoch {}/{}", epoch + 1, config.epochs), order.size(),
                      options.quiet ? Progress::Mode::never : Progress::Mode::automatic);
    double loss_sum = 0, correct = 0;
    size_t seen = 0;
    for (size_t first = 0; first < order.size(); first += config.batch_size) {
      if (options.stop && options.stop->load()) break;
      const size_t n = std::min<size_t>(config.batch_size, order.size() - first);
      if (n < 2) continue;  // batch norm needs two samples
      const std::vector<size_t> batch(order.begin() + first, order.begin() + first + n);
      auto [x, y] = augment(data.get(batch), label_tensor(labels, batch), config, rng);
      optimiser.zero_grad();
      const auto logits = net->forward(x.unsqueeze(1));
      const auto loss = weighted_loss(logits, y, weights);
      loss.backward();
      if (config.clip_norm > 0)
        torch::nn::utils::clip_grad_norm_(net->parameters(), config.clip_norm);
      optimiser.step();
      loss_sum += loss.item<double>() * n;
      correct += ((logits >= 0).to(torch::kFloat32) == (y >= 0.5).to(torch::kFloat32))
                     .sum()
                     .item<double>();
      seen += n;
      progress.set_detail(fmt::format("loss {:.4f}", loss_sum / seen));
      progress.advance(n);
    }
    progress.finish();
    run.train_seconds += seconds_since(started);
    run.trained_samples += seen;
    if (options.stop && options.stop->load()) {
      run.end = RunEnd::interrupted;
      break;
    }
    const auto eval = evaluate(net, data, labels, split.validation, config.features, weights);
    const auto m = compute_metrics(eval.probabilities, validation_labels, 0.5);
    EpochRecord record{epoch + 1,
                       loss_sum / std::max<size_t>(1, seen),
                       correct / std::max<size_t>(1, seen),
                       eval.loss,
                       m.accuracy,
                       m.balanced_accuracy,
                       lr,
                       seconds_since(started)};
    run.history.push_back(record);
    const bool improved = eval.loss < run.best_loss;
    if (improved)
      run.best_loss = eval.loss, run.best_epoch = epoch + 1, run.best_state = serialise(net),
      since_best = 0;
    else
      ++since_best;
    const double per_epoch = run.train_seconds / run.history.size();
    spdlog::log(
        options.quiet ? spdlog::level::debug : spdlog::level::info,
        "epoch {}/{}  loss {:.4f} acc {:.3f}  val loss {:.4f} acc {:.3f} bal {:.3f}{}  lr {:.2g}  "
        "{:.0f} samples/s  ETA {}",
        epoch + 1, config.epochs, record.train_loss, record.train_accuracy, record.validation_loss,
        record.validation_accuracy, record.validation_balanced_accuracy, improved ? " *" : "", lr,
        seen / std::max(1e-9, record.seconds),
        format_duration(per_epoch * (config.epochs - epoch - 1)));
    save_checkpoint(checkpoint, net, optimiser, run, seed, since_best);
    if (desert.update(eval.loss, m.balanced_accuracy)) {
      run.end = RunEnd::desert;
      break;
    }
    if (since_best >= config.patience) {
      spdlog::log(options.quiet ? spdlog::level::debug : spdlog::level::info,
                  "early stop: no better validation loss for {} epochs", config.patience);
      run.end = RunEnd::early_stopped;
      break;
    }
  }
  return run;
}

svg::LineChart training_chart(const std::vector<EpochRecord>& history) {
  svg::LineChart chart;
  chart.title = "Training";
  chart.x.label = "epoch";
  chart.y.label = "loss / accuracy";
  svg::Series train_loss{"train loss", {}, "", false}, val_loss{"validation loss", {}, "", true};
  svg::Series train_acc{"train accuracy", {}, "", false},
      val_acc{"validation accuracy", {}, "", true};
  for (const auto& e : history) {
    train_loss.points.emplace_back(e.epoch, e.train_loss);
    val_loss.points.emplace_back(e.epoch, e.validation_loss);
    train_acc.points.emplace_back(e.epoch, e.train_accuracy);
    val_acc.points.emplace_back(e.epoch, e.validation_accuracy);
  }
  chart.series = {train_loss, val_loss, train_acc, val_acc};
  return chart;
}

void save_model_folder(const fs::path& dir, Cnn& net, const TrainConfig& config,
                       const TrainResult& result,
                       const std::vector<std::pair<double, double>>& roc) {
  fs::create_directories(dir);
  write_text(dir / "model.pt", serialise(net));
  const nlohmann::json j = {{"name", dir.filename().string()},
                            {"kind", "cnn"},
                            {"features", config.features},
                            {"net", config.net},
                            {"threshold", result.validation.threshold},
                            {"metrics", {{"validation", result.validation}, {"test", result.test}}},
                            {"history", result.history},
                            {"best_epoch", result.best_epoch},
                            {"desert_restarts", result.desert_restarts},
                            {"stopped", result.stopped},
                            {"samples",
                             {{"train", result.train_samples},
                              {"validation", result.validation_samples},
                              {"test", result.test_samples}}},
                            {"config", config}};
  write_text(dir / "model.json", j.dump(2));
  svg::write(dir / "training.svg", training_chart(result.history));
  svg::write(dir / "roc.svg", svg::roc_chart(roc, result.test.roc_auc));
}

}  // namespace

torch::Tensor TensorSource::get(const std::vector<size_t>& indices) const {
  std::vector<int64_t> idx(indices.begin(), indices.end());
  return all_.index_select(0, torch::tensor(idx));
}

std::vector<float> predict(Cnn& net, const FeatureSource& data, const std::vector<size_t>& indices,
                           const FeatureConfig& features) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<float> out;
  out.reserve(indices.size());
  for (size_t first = 0; first < indices.size(); first += kEvalBatch) {
    const size_t n = std::min<size_t>(kEvalBatch, indices.size() - first);
    const std::vector<size_t> batch(indices.begin() + first, indices.begin() + first + n);
    const auto x = mel::normalise(data.get(batch), features).unsqueeze(1);
    const auto p = torch::sigmoid(net->forward(x)).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  return out;
}

TrainedModel train_core(const FeatureSource& data, const std::vector<int>& labels,
                        const Split& split, const TrainConfig& config, const fs::path& model_dir,
                        const TrainOptions& options) {
  torch::set_num_threads(config.threads > 0
                             ? config.threads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const auto started = Clock::now();
  const Checkpoint checkpoint{model_dir.empty() ? fs::path() : model_dir / "checkpoint"};
  TrainedModel out;
  Run run;
  for (int attempt = 0;; ++attempt) {
    const uint64_t seed = config.seed + 1000003ULL * attempt;
    const bool resume = options.resume && attempt == 0;
    if (attempt > 0 && checkpoint.enabled()) fs::remove_all(checkpoint.dir);
    run = run_once(data, labels, split, config, seed, checkpoint, resume, options);
    if (run.end != RunEnd::desert) break;
    ++out.result.desert_restarts;
    if (attempt >= config.desert.max_restarts) {
      spdlog::warn(
          "0.693 desert: loss stuck at ln 2 with chance-level predictions after {} restarts; "
          "keeping the last run (try a lower lr or more data)",
          attempt);
      break;
    }
    spdlog::warn(
        "0.693 desert: validation loss stuck at ln 2 with chance-level predictions for {} epochs "
        "(seed {}); restarting with seed {}",
        config.desert.epochs, seed, seed + 1000003ULL);
  }
  out.result.stopped = run.end == RunEnd::interrupted;
  if (run.best_state.empty())
    throw Error(
        "training stopped before the first epoch finished; nothing to save (run again with "
        "--resume)");
  out.net = Cnn(config.net, config.features.n_mels, config.features.frames);
  deserialise(out.net, run.best_state);
  out.net->eval();

  auto& r = out.result;
  r.history = run.history;
  r.best_epoch = run.best_epoch;
  r.train_samples = split.train.size();
  r.validation_samples = split.validation.size();
  r.test_samples = split.test.size();
  r.samples_per_second = run.trained_samples / std::max(1e-9, run.train_seconds);
  const auto validation_labels = labels_of(labels, split.validation);
  const auto validation_p = predict(out.net, data, split.validation, config.features);
  const double threshold = choose_threshold(validation_p, validation_labels);
  r.validation = compute_metrics(validation_p, validation_labels, threshold);
  const auto test_labels = labels_of(labels, split.test);
  const auto test_p = predict(out.net, data, split.test, config.features);
  r.test = compute_metrics(test_p, test_labels, threshold);
  r.seconds = seconds_since(started);
  if (!model_dir.empty()) {
    r.model_dir = model_dir;
    save_model_folder(model_dir, out.net, config, r, roc_curve(test_p, test_labels));
  }
  return out;
}

TrainResult train_arrays(const ArrayDataset& data, const Split& split, const TrainConfig& config,
                         const fs::path& model_dir, const TrainOptions& options) {
  const int64_t rows = config.features.n_mels, cols = config.features.frames;
  auto all = torch::empty({static_cast<int64_t>(data.inputs.size()), rows, cols});
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    const auto& s = data.inputs[i];
    if (s.rows != rows || s.cols != cols)
      throw Error(fmt::format("input {} is {}x{}, the feature config says {}x{}", i, s.rows, s.cols,
                              rows, cols));
    std::copy(s.values.begin(), s.values.end(), all[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return train_core(TensorSource(all), data.labels, split, config, model_dir, options).result;
}

}  // namespace sax

#include "model/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/progress.h"
#include "infer/detector.h"
#include "model/desert.h"
#include "model/efficientat.h"
#include "plot/svg.h"

namespace sax {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kEvalBatch = 128;
const double kPi = std::acos(-1.0);

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string serialise(const Network& net) {
  std::ostringstream out;
  torch::save(net, out);
  return out.str();
}

// Onto the CPU whatever device the state was saved from: the kept network is measured and saved
// there.
void deserialise(const Network& net, const std::string& bytes) {
  std::istringstream in(bytes);
  torch::load(net, in, torch::kCPU);
}

// TrainConfig::device: "auto" is CUDA when this LibTorch build and a GPU are present.
torch::Device training_device(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  if (device == "cuda" && !torch::cuda::is_available())
    throw Error(
        "train config: device \"cuda\" asked for, but this LibTorch build or machine has no CUDA "
        "GPU (use \"auto\" or \"cpu\")");
  return device == "cuda" ? torch::Device(torch::kCUDA) : preferred_device();
}

torch::Device device_of(const Network& net) { return net->parameters().front().device(); }

// Runs the network on its device and brings the scores back: losses and metrics are computed on
// the CPU (autograd follows the copy), so only [B] and [B, steps] logits travel per batch.
NetworkImpl::Scores scores_of(const Network& net, const torch::Tensor& input) {
  auto scores = net->forward_steps(input.to(device_of(net)));
  scores.logits = scores.logits.to(torch::kCPU);
  if (scores.step_logits.defined()) scores.step_logits = scores.step_logits.to(torch::kCPU);
  return scores;
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
ClassWeights weights_for(double sax, double n) {
  if (sax <= 0 || sax >= n) return {};
  return {n / (2 * sax), n / (2 * (n - sax))};
}
ClassWeights balance(const std::vector<int>& labels, const std::vector<size_t>& indices) {
  double sax = 0;
  for (size_t i : indices) sax += labels[i];
  return weights_for(sax, static_cast<double>(indices.size()));
}
// The same for time steps: over every column with a known target.
ClassWeights balance(const FrameTargets& frames, const std::vector<size_t>& indices) {
  double sax = 0, n = 0;
  for (size_t i : indices)
    if (i < frames.size())
      for (float share : frames[i]) sax += share, n += 1;
  return weights_for(sax, n);
}

torch::Tensor weighted_loss(const torch::Tensor& logits, const torch::Tensor& targets,
                            ClassWeights w) {
  const auto weights = targets * w.sax + (1 - targets) * w.not_sax;
  return torch::nn::functional::binary_cross_entropy_with_logits(
      logits, targets,
      torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().weight(weights));
}

bool has_frames(const FrameTargets& frames, size_t i) {
  return i < frames.size() && !frames[i].empty();
}

// A batch's targets: its window labels (none when `labels` is empty) and, when any of its samples
// has them, column targets.
Targets batch_targets(const std::vector<int>& labels, const FrameTargets& frames,
                      const std::vector<size_t>& batch) {
  const auto n = static_cast<int64_t>(batch.size());
  Targets t{torch::empty({n}), {}, {}};
  int64_t cols = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!labels.empty()) t.windows[static_cast<int64_t>(i)] = static_cast<float>(labels[batch[i]]);
    if (has_frames(frames, batch[i])) cols = static_cast<int64_t>(frames[batch[i]].size());
  }
  if (cols == 0) return t;
  t.frames = torch::zeros({n, cols});
  t.known = torch::zeros({n});
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!has_frames(frames, batch[i])) continue;
    const auto& row = frames[batch[i]];
    if (static_cast<int64_t>(row.size()) != cols)
      throw Error(fmt::format("frame targets of sample {} have {} columns, others {}", batch[i],
                              row.size(), cols));
    std::copy(row.begin(), row.end(), t.frames[static_cast<int64_t>(i)].data_ptr<float>());
    t.known[static_cast<int64_t>(i)] = 1.0f;
  }
  return t;
}

// Column targets [B, cols] -> step targets [B, steps]: the mean of each step's frame_step columns.
torch::Tensor step_targets(const torch::Tensor& frames, int64_t steps, int frame_step) {
  return frames.narrow(1, 0, steps * frame_step).reshape({-1, steps, frame_step}).mean(2);
}

// Class-weighted cross-entropy of the steps of the samples whose targets are known.
torch::Tensor step_loss(const torch::Tensor& step_logits, const Targets& t, ClassWeights w,
                        int frame_step) {
  const int64_t steps = step_logits.size(1);
  const auto target = step_targets(t.frames, steps, frame_step);
  const auto weights = (target * w.sax + (1 - target) * w.not_sax) * t.known.unsqueeze(1);
  const auto sum = torch::nn::functional::binary_cross_entropy_with_logits(
      step_logits, target,
      torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().weight(weights).reduction(
          torch::kSum));
  return sum / (t.known.sum() * static_cast<double>(steps)).clamp_min(1.0);
}

// Cosine annealing from lr to 0 over the run.
double learning_rate(const TrainConfig& c, int epoch /*0-based*/) {
  return c.lr * 0.5 * (1 + std::cos(kPi * epoch / c.epochs));
}

// Adam over the kind's parameter groups, each at its share of the learning rate.
struct Optimiser {
  std::unique_ptr<torch::optim::Adam> adam;
  std::vector<double> lr_scales;  // per parameter group

  Optimiser(const std::vector<ParameterGroup>& groups, const TrainConfig& config) {
    std::vector<torch::optim::OptimizerParamGroup> params;
    for (const auto& g : groups) {
      params.emplace_back(
          g.parameters,
          std::make_unique<torch::optim::AdamOptions>(
              torch::optim::AdamOptions(config.lr * g.lr_scale).weight_decay(config.weight_decay)));
      lr_scales.push_back(g.lr_scale);
    }
    adam = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  }
  void set_learning_rate(double lr) {
    auto& groups = adam->param_groups();
    for (size_t i = 0; i < groups.size(); ++i)
      static_cast<torch::optim::AdamOptions&>(groups[i].options()).lr(lr * lr_scales[i]);
  }
};

struct Evaluation {
  std::vector<float> probabilities;
  double loss = 0;  // class-weighted, like the training loss
};

Evaluation evaluate(const Network& net, const ModelKind& kind, const FeatureSource& data,
                    const std::vector<int>& labels, const std::vector<size_t>& indices,
                    ClassWeights w) {
  Evaluation e;
  e.probabilities = predict(net, kind, data, indices);
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

// Step probabilities of the samples with known sax times, and the truth of each step (sax when
// it sounds for at least half the step). Empty for a network without steps.
struct StepScores {
  std::vector<float> probabilities;
  std::vector<int> labels;
};
StepScores score_steps(const Network& net, const ModelKind& kind, const FeatureSource& data,
                       const FrameTargets& frames, const std::vector<size_t>& indices,
                       int frame_step) {
  std::vector<size_t> timed;
  for (size_t i : indices)
    if (has_frames(frames, i)) timed.push_back(i);
  torch::NoGradGuard no_grad;
  net->eval();
  StepScores out;
  for (size_t first = 0; first < timed.size(); first += kEvalBatch) {
    const size_t n = std::min<size_t>(kEvalBatch, timed.size() - first);
    const std::vector<size_t> batch(timed.begin() + first, timed.begin() + first + n);
    const auto scores = scores_of(net, kind.prepare(data.get(batch)));
    if (!scores.step_logits.defined()) return {};
    const auto p = torch::sigmoid(scores.step_logits).contiguous();
    const auto truth =
        step_targets(batch_targets({}, frames, batch).frames, p.size(1), frame_step).contiguous();
    out.probabilities.insert(out.probabilities.end(), p.data_ptr<float>(),
                             p.data_ptr<float>() + p.numel());
    for (int64_t k = 0; k < truth.numel(); ++k)
      out.labels.push_back(truth.data_ptr<float>()[k] >= 0.5f ? 1 : 0);
  }
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

// A checkpoint's JSON; a damaged one is an error naming the file, not a bare parser message.
nlohmann::json read_checkpoint_json(const fs::path& path) {
  std::ifstream in(path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: unreadable checkpoint ({}); train without --resume to start over",
                            path.string(), e.what()));
  }
}

// State saved each epoch so --resume continues an interrupted run as if it had never stopped:
// weights, Adam's moments, and both random generators (the shuffle's and LibTorch's, which
// draws dropout). After each finished seed of TrainConfig::seeds, the seeds record says which
// are done and holds the best of them, so a resumed run skips them.
struct Checkpoint {
  fs::path dir;
  bool enabled() const { return !dir.empty(); }
  fs::path state() const { return dir / "state.pt"; }
  fs::path optimiser() const { return dir / "optimiser.pt"; }
  fs::path best() const { return dir / "best.pt"; }
  fs::path generator() const { return dir / "generator.pt"; }
  fs::path json() const { return dir / "checkpoint.json"; }
  fs::path seeds() const { return dir / "seeds.json"; }
  fs::path kept() const { return dir / "kept.pt"; }
  fs::path config() const { return dir / "config.json"; }

  // Forgets the run in progress; the seeds record stays.
  void clear_run() const {
    if (!enabled()) return;
    for (const auto& file : {state(), optimiser(), best(), generator(), json()}) fs::remove(file);
  }
  // The seed of the run in progress, if one is saved.
  std::optional<uint64_t> saved_seed() const {
    if (!enabled() || !fs::exists(json())) return std::nullopt;
    return read_checkpoint_json(json()).at("seed").get<uint64_t>();
  }
};

// Settings a resumed run may change: how many seeds (more adds seeds) and where it runs.
// `pointer`: a leaf of json::flatten(), "/net/depth".
bool may_change_on_resume(const std::string& pointer) {
  return pointer == "/seeds" || pointer == "/threads" || pointer == "/device";
}

// "/net/depth" -> "net.depth", as the config file and search spaces name it.
std::string dotted(std::string pointer) {
  std::replace(pointer.begin(), pointer.end(), '/', '.');
  return pointer.substr(1);
}

// A resumed run must train as the interrupted one did (a changed learning rate or schedule would
// silently mix two runs in one model): refuses a config that differs from the one recorded at
// the start, naming each changed field. Records the config when there is none.
void check_resumed_config(const Checkpoint& cp, const TrainConfig& config, bool resume) {
  if (!cp.enabled()) return;
  const nlohmann::json now = config;
  if (resume && fs::exists(cp.config())) {
    const auto before = read_checkpoint_json(cp.config()).flatten(), after = now.flatten();
    std::set<std::string> fields;
    for (const auto* leaves : {&before, &after})
      for (const auto& item : leaves->items()) fields.insert(item.key());
    std::vector<std::string> changed;
    for (const auto& field : fields) {
      const auto was = before.value(field, nlohmann::json()),
                 is = after.value(field, nlohmann::json());
      if (!may_change_on_resume(field) && was != is)
        changed.push_back(fmt::format("{} ({} -> {})", dotted(field), was.dump(), is.dump()));
    }
    if (!changed.empty())
      throw Error(fmt::format(
          "{}: --resume needs the settings the run started with; changed: {}. Resume with them, "
          "or train a new model under another --out",
          cp.dir.string(), fmt::join(changed, ", ")));
    return;
  }
  fs::create_directories(cp.dir);
  write_text(cp.config(), now.dump(1));
}

// Gradients are clipped to this norm: a batch of mixed-up outliers cannot throw the run off.
constexpr double kClipNorm = 5.0;

// A seed's desert restarts train from seed + k * kRestartStride.
constexpr uint64_t kRestartStride = 1000003ULL;

// Which attempt of `seed` (0: the first, k: the k-th desert restart) trained from `saved`; -1
// when none did.
int attempt_of(uint64_t saved, uint64_t seed, int max_restarts) {
  for (int attempt = 0; attempt <= max_restarts; ++attempt)
    if (saved == seed + kRestartStride * attempt) return attempt;
  return -1;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

at::Generator cpu_generator() { return at::globalContext().defaultGenerator(c10::DeviceType::CPU); }

nlohmann::json run_json(const Run& run) {
  return {{"history", run.history},
          {"best_loss", run.best_loss},
          {"best_epoch", run.best_epoch},
          {"train_seconds", run.train_seconds},
          {"trained_samples", run.trained_samples}};
}

// Reads what run_json wrote; checkpoints from before the timings were saved start them at 0.
void read_run(const nlohmann::json& j, Run& run) {
  run.history = j.at("history").get<std::vector<EpochRecord>>();
  run.best_loss = j.at("best_loss").get<double>();
  run.best_epoch = j.at("best_epoch").get<int>();
  run.train_seconds = j.value("train_seconds", 0.0);
  run.trained_samples = j.value("trained_samples", size_t{0});
}

// The training order: shuffled in place each epoch, so the next epoch's order depends on it.
struct Shuffle {
  std::mt19937_64 rng;
  std::vector<size_t> order;
};

void save_checkpoint(const Checkpoint& cp, const Network& net, torch::optim::Adam& optimiser,
                     const Run& run, uint64_t seed, int since_best, const Shuffle& shuffle) {
  if (!cp.enabled()) return;
  fs::create_directories(cp.dir);
  torch::save(net, cp.state().string());
  torch::save(optimiser, cp.optimiser().string());
  write_text(cp.best(), run.best_state);
  {
    auto generator = cpu_generator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    torch::save(generator.get_state(), cp.generator().string());
  }
  std::ostringstream rng;
  rng << shuffle.rng;
  nlohmann::json j = run_json(run);
  j["seed"] = seed;
  j["since_best"] = since_best;
  j["rng"] = rng.str();
  j["order"] = shuffle.order;
  write_text(cp.json(), j.dump(1));  // last: a checkpoint.json means the files beside it match
}

// Restores a run from the checkpoint; returns the epochs without improvement so far.
// Checkpoints written before the generators were saved resume with fresh ones.
int load_checkpoint(const Checkpoint& cp, const Network& net, torch::optim::Adam& optimiser,
                    Run& run, Shuffle& shuffle) {
  const auto j = read_checkpoint_json(cp.json());
  torch::load(net, cp.state().string());
  torch::load(optimiser, cp.optimiser().string());
  run.best_state = read_bytes(cp.best());
  read_run(j, run);
  if (j.contains("rng")) {
    std::istringstream rng(j.at("rng").get<std::string>());
    rng >> shuffle.rng;
    shuffle.order = j.at("order").get<std::vector<size_t>>();
  }
  if (fs::exists(cp.generator())) {
    torch::Tensor state;
    torch::load(state, cp.generator().string());
    auto generator = cpu_generator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  }
  spdlog::info("resuming from {} after epoch {}", cp.dir.string(), run.history.size());
  return j.at("since_best").get<int>();
}

bool same_items(std::vector<size_t> a, std::vector<size_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// The finished seeds of a TrainConfig::seeds run and the best of them.
struct SeedsDone {
  std::vector<SeedRun> runs;
  Run kept;
  uint64_t kept_seed = 0;
  int desert_restarts = 0;
};

void save_seeds(const Checkpoint& cp, const SeedsDone& done, uint64_t first_seed) {
  if (!cp.enabled()) return;
  fs::create_directories(cp.dir);
  write_text(cp.kept(), done.kept.best_state);
  const nlohmann::json j = {{"first_seed", first_seed},
                            {"runs", done.runs},
                            {"kept_seed", done.kept_seed},
                            {"kept", run_json(done.kept)},
                            {"desert_restarts", done.desert_restarts}};
  write_text(cp.seeds(), j.dump(1));
}

// The seeds already finished, for --resume; none when there is no record. A record of other
// seeds than the config's is an error naming the field.
SeedsDone load_seeds(const Checkpoint& cp, const TrainConfig& config) {
  SeedsDone done;
  if (!cp.enabled() || !fs::exists(cp.seeds())) return done;
  const auto j = read_checkpoint_json(cp.seeds());
  const auto first = j.at("first_seed").get<uint64_t>();
  if (first != config.seed)
    throw Error(fmt::format("{}: these seeds start at {}, not {} (\"seed\")", cp.seeds().string(),
                            first, config.seed));
  done.runs = j.at("runs").get<std::vector<SeedRun>>();
  if (done.runs.size() > static_cast<size_t>(config.seeds))
    throw Error(fmt::format("{}: {} seeds are finished, more than the {} asked for (\"seeds\")",
                            cp.seeds().string(), done.runs.size(), config.seeds));
  done.kept_seed = j.at("kept_seed").get<uint64_t>();
  read_run(j.at("kept"), done.kept);
  done.kept.best_state = read_bytes(cp.kept());
  done.desert_restarts = j.at("desert_restarts").get<int>();
  return done;
}

// One training run from one seed: epochs with early stopping and desert detection.
Run run_once(const ModelKind& kind, const FeatureSource& data, const std::vector<int>& labels,
             const FrameTargets& frames, const Split& split, const TrainConfig& config,
             uint64_t seed, const Checkpoint& checkpoint, bool resume,
             const TrainOptions& options) {
  torch::manual_seed(seed);
  const Network net = kind.create();
  net->to(training_device(config.device));  // before the optimiser takes its parameters
  Optimiser optimiser(kind.parameter_groups(net), config);
  Run run;
  Shuffle shuffle{std::mt19937_64(seed), split.train};
  int since_best = 0;
  if (resume && fs::exists(checkpoint.json())) {
    since_best = load_checkpoint(checkpoint, net, *optimiser.adam, run, shuffle);
    if (!same_items(shuffle.order, split.train)) {
      spdlog::warn("{}: the training samples changed since it was saved; shuffling them afresh",
                   checkpoint.dir.string());
      shuffle.order = split.train;
    }
  }
  const ClassWeights weights = balance(labels, split.train);
  const ClassWeights step_weights = balance(frames, split.train);
  DesertDetector desert(config.desert);
  for (const auto& e : run.history)
    desert.update(e.validation_loss, e.validation_balanced_accuracy);
  auto& order = shuffle.order;
  const auto validation_labels = labels_of(labels, split.validation);

  for (int epoch = static_cast<int>(run.history.size()); epoch < config.epochs; ++epoch) {
    const auto started = Clock::now();
    const double lr = learning_rate(config, epoch);
    optimiser.set_learning_rate(lr);
    std::shuffle(order.begin(), order.end(), shuffle.rng);
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
      auto [x, targets] =
          kind.augment(data.get(batch), batch_targets(labels, frames, batch), shuffle.rng);
      const auto& y = targets.windows;
      optimiser.adam->zero_grad();
      const auto scores = scores_of(net, x);
      const auto& logits = scores.logits;
      auto loss = weighted_loss(logits, y, weights);
      if (config.step_weight > 0 && targets.has_frames() && scores.step_logits.defined())
        loss = loss + config.step_weight * step_loss(scores.step_logits, targets, step_weights,
                                                     config.net.frame_step);
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), kClipNorm);
      optimiser.adam->step();
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
    const auto eval = evaluate(net, kind, data, labels, split.validation, weights);
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
    save_checkpoint(checkpoint, net, *optimiser.adam, run, seed, since_best, shuffle);
    // The desert belongs to random starts: a kind that starts as a detector starts the same from
    // every seed, so a restart could not leave it.
    if (!kind.starts_zero_shot() && desert.update(eval.loss, m.balanced_accuracy)) {
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

// One seed's run, restarted from new seeds while it sits in the desert; counts the restarts.
// `resume` continues the attempt saved in the checkpoint, a restart's included.
Run train_seed(const ModelKind& kind, const FeatureSource& data, const std::vector<int>& labels,
               const FrameTargets& frames, const Split& split, const TrainConfig& config,
               uint64_t seed, bool resume, const Checkpoint& checkpoint,
               const TrainOptions& options, int& desert_restarts) {
  int first_attempt = 0;
  if (const auto saved = resume ? checkpoint.saved_seed() : std::nullopt) {
    first_attempt = attempt_of(*saved, seed, config.desert.max_restarts);
    if (first_attempt < 0)
      throw Error(fmt::format("{}: saved for seed {}, not {} (\"seed\")",
                              checkpoint.json().string(), *saved, seed));
    desert_restarts += first_attempt;
  }
  for (int attempt = first_attempt;; ++attempt) {
    const uint64_t attempt_seed = seed + kRestartStride * attempt;
    const bool resume_attempt = resume && attempt == first_attempt;
    if (!resume_attempt) checkpoint.clear_run();
    Run run = run_once(kind, data, labels, frames, split, config, attempt_seed, checkpoint,
                       resume_attempt, options);
    if (run.end != RunEnd::desert) return run;
    ++desert_restarts;
    if (attempt >= config.desert.max_restarts) {
      spdlog::warn(
          "0.693 desert: loss stuck at ln 2 with chance-level predictions after {} restarts; "
          "keeping the last run (try a lower lr or more data)",
          attempt);
      return run;
    }
    spdlog::warn(
        "0.693 desert: validation loss stuck at ln 2 with chance-level predictions for {} epochs "
        "(seed {}); restarting with seed {}",
        config.desert.epochs, attempt_seed, attempt_seed + kRestartStride);
  }
}

// Trains the seeds of TrainConfig::seeds not finished yet and keeps the lowest validation loss;
// each finished seed is recorded, so --resume goes on from the seed in progress.
Run train_seeds(const ModelKind& kind, const FeatureSource& data, const std::vector<int>& labels,
                const FrameTargets& frames, const Split& split, const TrainConfig& config,
                const Checkpoint& checkpoint, const TrainOptions& options, TrainResult& result) {
  SeedsDone done = options.resume ? load_seeds(checkpoint, config) : SeedsDone{};
  const size_t first = done.runs.size();
  // A crash between recording a seed and clearing its checkpoint leaves that seed's run behind.
  const auto saved = checkpoint.saved_seed();
  if (saved && first > 0 &&
      attempt_of(*saved, done.runs.back().seed, config.desert.max_restarts) >= 0)
    checkpoint.clear_run();
  for (size_t k = first; k < static_cast<size_t>(config.seeds); ++k) {
    const uint64_t seed = config.seed + k;
    Run next = train_seed(kind, data, labels, frames, split, config, seed,
                          options.resume && k == first, checkpoint, options, done.desert_restarts);
    const SeedRun summary{seed, next.best_loss, next.best_epoch,
                          static_cast<int>(next.history.size())};
    if (config.seeds > 1)
      spdlog::log(options.quiet ? spdlog::level::debug : spdlog::level::info,
                  "seed {} ({}/{}): best validation loss {:.4f} at epoch {}", seed, k + 1,
                  config.seeds, next.best_loss, next.best_epoch);
    const bool interrupted = next.end == RunEnd::interrupted;
    if (next.best_loss < done.kept.best_loss) done.kept = std::move(next), done.kept_seed = seed;
    if (interrupted) {  // the seed in progress is reported, not recorded as finished
      result.stopped = true;
      result.seed_runs = done.runs;
      result.seed_runs.push_back(summary);
      break;
    }
    done.runs.push_back(summary);
    save_seeds(checkpoint, done, config.seed);
    checkpoint.clear_run();
  }
  if (!result.stopped) result.seed_runs = done.runs;
  result.seed = done.kept_seed;
  result.desert_restarts = done.desert_restarts;
  return std::move(done.kept);
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

void save_model_folder(const fs::path& dir, const Network& net, const ModelKind& kind,
                       const TrainConfig& config, const TrainResult& result,
                       const std::vector<std::pair<double, double>>& roc) {
  fs::create_directories(dir);
  kind.save(net, dir / kWeightsFile);
  nlohmann::json j = result;
  j["name"] = dir.filename().string();
  j["kind"] = kind.name();
  j["features"] = config.features;
  j["net"] = config.net;
  j["config"] = config;
  kind.describe(j);
  write_text(dir / "model.json", j.dump(2));
  svg::write(dir / "training.svg", training_chart(result.history));
  svg::write(dir / "roc.svg", svg::roc_chart(roc, result.test.roc_auc));
}

// Step metrics of the validation and test samples with known sax times, at the step threshold
// chosen for F1 on validation steps.
void measure_steps(const Network& net, const ModelKind& kind, const FeatureSource& data,
                   const FrameTargets& frames, const Split& split, const TrainConfig& config,
                   TrainResult& r) {
  const int frame_step = config.net.frame_step;
  for (const auto* part : {&split.train, &split.validation, &split.test})
    for (size_t i : *part) r.timed_samples += has_frames(frames, i);
  const auto validation = score_steps(net, kind, data, frames, split.validation, frame_step);
  if (validation.labels.empty()) return;
  r.validation_steps = compute_metrics(
      validation.probabilities, validation.labels,
      choose_threshold(validation.probabilities, validation.labels, ThresholdGoal::f1));
  const auto test = score_steps(net, kind, data, frames, split.test, frame_step);
  r.test_steps = compute_metrics(test.probabilities, test.labels, r.validation_steps.threshold);
}

// The config with the net's "auto" GRU settled for this run (model.json records the result):
// none for a kind other than the CNN, else by the size of the training set.
TrainConfig settle_net(TrainConfig config, size_t train_samples) {
  if (config.net.gru != kGruAuto) return config;
  if (!config.trains_cnn())
    config.net.gru = 0;
  else
    config.net = settle_gru(config.net, train_samples);
  return config;
}

// The untrained model's validation figures, for a kind that starts as a detector; none for
// the others.
std::optional<ZeroShotCheck> measure_zero_shot(const ModelKind& kind, const FeatureSource& data,
                                               const std::vector<int>& labels, const Split& split,
                                               const TrainOptions& options) {
  if (!kind.starts_zero_shot()) return std::nullopt;
  const auto validation_labels = labels_of(labels, split.validation);
  const auto eval =
      evaluate(kind.create(), kind, data, labels, split.validation, balance(labels, split.train));
  ZeroShotCheck z;
  z.validation = compute_metrics(eval.probabilities, validation_labels,
                                 choose_threshold(eval.probabilities, validation_labels));
  z.validation_loss = eval.loss;
  const auto test_labels = labels_of(labels, split.test);
  if (!split.test.empty())
    z.test = compute_metrics(predict(kind.create(), kind, data, split.test), test_labels,
                             z.validation.threshold);
  spdlog::log(options.quiet ? spdlog::level::debug : spdlog::level::info,
              "zero-shot on the validation samples: ROC-AUC {:.3f}, loss {:.4f}",
              z.validation.roc_auc, z.validation_loss);
  return z;
}

// The zero-shot figures beside the trained model's: worse when it ranks the validation samples
// lower or fits them with a higher loss.
ZeroShotCheck compare_with_zero_shot(ZeroShotCheck z, const Network& net, const ModelKind& kind,
                                     const FeatureSource& data, const std::vector<int>& labels,
                                     const Split& split, const TrainResult& trained) {
  z.trained_validation_loss =
      evaluate(net, kind, data, labels, split.validation, balance(labels, split.train)).loss;
  z.worse = trained.validation.roc_auc < z.validation.roc_auc ||
            z.trained_validation_loss > z.validation_loss;
  return z;
}

// At most config.train_limit training samples, drawn at random (learning curves).
Split limit_training(Split split, const TrainConfig& config) {
  if (config.train_limit <= 0 || static_cast<size_t>(config.train_limit) >= split.train.size())
    return split;
  std::mt19937_64 rng(config.split_seed);
  std::shuffle(split.train.begin(), split.train.end(), rng);
  split.train.resize(static_cast<size_t>(config.train_limit));
  return split;
}

}  // namespace

torch::Tensor TensorSource::get(const std::vector<size_t>& indices) const {
  std::vector<int64_t> idx(indices.begin(), indices.end());
  return all_.index_select(0, torch::tensor(idx));
}

std::vector<float> predict(const Network& net, const ModelKind& kind, const FeatureSource& data,
                           const std::vector<size_t>& indices) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<float> out;
  out.reserve(indices.size());
  for (size_t first = 0; first < indices.size(); first += kEvalBatch) {
    const size_t n = std::min<size_t>(kEvalBatch, indices.size() - first);
    const std::vector<size_t> batch(indices.begin() + first, indices.begin() + first + n);
    const auto p =
        torch::sigmoid(scores_of(net, kind.prepare(data.get(batch))).logits).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  return out;
}

TrainedModel train_core(const FeatureSource& data, const std::vector<int>& labels,
                        const FrameTargets& frames, const Split& all, const TrainConfig& given,
                        const fs::path& model_dir, const TrainOptions& options) {
  const Split split = limit_training(all, given);
  const TrainConfig config = settle_net(given, split.train.size());
  if (given.net.gru == kGruAuto && config.trains_cnn())
    spdlog::log(options.quiet ? spdlog::level::debug : spdlog::level::info,
                "gru \"auto\": {} for {} training samples",
                config.net.gru > 0 ? fmt::format("{} units", config.net.gru) : "none",
                split.train.size());
  torch::set_num_threads(config.threads > 0
                             ? config.threads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const auto started = Clock::now();
  const auto kind = model_kind(config);
  const std::string device = training_device(config.device).str();  // refuses a missing GPU early
  const Checkpoint checkpoint{model_dir.empty() ? fs::path() : model_dir / "checkpoint"};
  check_resumed_config(checkpoint, given, options.resume);
  TrainedModel out;
  const auto zero_shot = measure_zero_shot(*kind, data, labels, split, options);
  const Run run =
      train_seeds(*kind, data, labels, frames, split, config, checkpoint, options, out.result);
  if (run.best_state.empty())
    throw Error(
        "training stopped before the first epoch finished; nothing to save (run again with "
        "--resume)");
  out.net = kind->create();
  deserialise(out.net, run.best_state);
  out.net->eval();

  auto& r = out.result;
  r.history = run.history;
  r.best_epoch = run.best_epoch;
  r.train_samples = split.train.size();
  r.validation_samples = split.validation.size();
  r.test_samples = split.test.size();
  r.samples_per_second = run.trained_samples / std::max(1e-9, run.train_seconds);
  r.device = device;
  const auto validation_labels = labels_of(labels, split.validation);
  const auto validation_p = predict(out.net, *kind, data, split.validation);
  const double threshold = choose_threshold(validation_p, validation_labels);
  r.validation = compute_metrics(validation_p, validation_labels, threshold);
  const auto test_labels = labels_of(labels, split.test);
  const auto test_p = predict(out.net, *kind, data, split.test);
  r.test = compute_metrics(test_p, test_labels, threshold);
  measure_steps(out.net, *kind, data, frames, split, config, r);
  if (zero_shot)
    r.zero_shot = compare_with_zero_shot(*zero_shot, out.net, *kind, data, labels, split, r);
  r.seconds = seconds_since(started);
  if (!model_dir.empty()) {
    r.model_dir = model_dir;
    save_model_folder(model_dir, out.net, *kind, config, r, roc_curve(test_p, test_labels));
  }
  return out;
}

std::unique_ptr<ModelKind> model_kind(const TrainConfig& config) {
  if (config.kind == "efficientat") return efficientat_kind(config);
  return cnn_kind(config);
}

torch::Tensor stack_spectrograms(const ArrayDataset& data, const FeatureConfig& features) {
  const int64_t rows = features.n_mels, cols = features.frames;
  auto all = torch::empty({static_cast<int64_t>(data.inputs.size()), rows, cols});
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    const auto& s = data.inputs[i];
    if (s.rows != rows || s.cols != cols)
      throw Error(fmt::format("input {} is {}x{}, the feature config says {}x{}", i, s.rows, s.cols,
                              rows, cols));
    std::copy(s.values.begin(), s.values.end(), all[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return all;
}

}  // namespace sax

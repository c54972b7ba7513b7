// Self-supervised contrastive pretraining of the CNN's conv blocks (SimCLR): two augmented views
// of each sample should embed close together and far from the other samples of the batch.
#include <chrono>
#include <fstream>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/progress.h"
#include "model/trainer.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

constexpr double kTemperature = 0.2;
constexpr int64_t kProjection = 64;
constexpr int kMinimumBatch = 32;  // negatives per positive pair: contrastive needs many

// NT-Xent over 2B embeddings where rows i and i + B are the two views of one sample.
torch::Tensor nt_xent(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t n = a.size(0);
  const auto z = torch::nn::functional::normalize(
      torch::cat({a, b}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto similarity = torch::matmul(z, z.t()) / kTemperature;
  similarity = similarity.masked_fill(torch::eye(2 * n, torch::kBool), -1e9);  // not itself
  const auto partner = torch::cat({torch::arange(n, 2 * n), torch::arange(0, n)});
  return torch::nn::functional::cross_entropy(similarity, partner);
}

void save(const fs::path& dir, Cnn& net, const TrainConfig& config, const PretrainResult& r) {
  fs::create_directories(dir);
  save_weights(*net, dir / kWeightsFile);
  const nlohmann::json j = {{"name", dir.filename().string()},
                            {"kind", "cnn"},
                            {"pretraining", "contrastive"},
                            {"features", config.features},
                            {"net", config.net},
                            {"threshold", 0.5},
                            {"losses", r.losses},
                            {"samples", r.samples},
                            {"config", config}};
  std::ofstream out(dir / "model.json");
  out << j.dump(2);
  if (!out) throw Error(fmt::format("{}: cannot write", (dir / "model.json").string()));
}

}  // namespace

PretrainResult pretrain_core(const FeatureSource& data, size_t count, const TrainConfig& given,
                             const fs::path& model_dir, const TrainOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  // Settled by the samples seen here: a run that starts from this model takes its GRU.
  TrainConfig config = given;
  config.net = settle_gru(config.net, count);
  TrainConfig views = config;
  views.augment.mixup_alpha = 0;  // a mixed view would be the partner of two samples
  views.augment.enabled = true;
  const auto kind = cnn_kind(views);
  torch::manual_seed(config.seed);
  std::mt19937_64 rng(config.seed);
  Cnn net(config.net, config.features.n_mels, config.features.frames);
  kaiming_init(*net);
  torch::nn::Sequential projection(torch::nn::Linear(net->fc_inputs(), 256), torch::nn::ReLU(),
                                   torch::nn::Linear(256, kProjection));
  auto parameters = net->parameters();
  for (auto& p : projection->parameters()) parameters.push_back(p);
  torch::optim::Adam adam(parameters,
                          torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  const int batch_size = std::max(config.batch_size, kMinimumBatch);
  if (count < 4) throw Error(fmt::format("only {} samples: too few to pretrain on", count));
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  PretrainResult result;
  result.samples = count;
  const auto dummy = torch::zeros({batch_size});
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    net->train();
    Progress progress(fmt::format("pretrain epoch {}/{}", epoch + 1, config.epochs), count,
                      options.quiet ? Progress::Mode::never : Progress::Mode::automatic);
    double sum = 0;
    size_t seen = 0;
    for (size_t first = 0; first + 2 <= count; first += batch_size) {
      if (options.stop && options.stop->load()) break;
      const size_t n = std::min<size_t>(batch_size, count - first);
      const std::vector<size_t> batch(order.begin() + first, order.begin() + first + n);
      const auto raw = data.get(batch);
      const Targets y{dummy.narrow(0, 0, static_cast<int64_t>(n)), {}, {}};
      const auto one = kind->augment(raw, y, rng).first, two = kind->augment(raw, y, rng).first;
      adam.zero_grad();
      const auto loss =
          nt_xent(projection->forward(net->embed(one)), projection->forward(net->embed(two)));
      loss.backward();
      adam.step();
      sum += loss.item<double>() * n;
      seen += n;
      progress.set_detail(fmt::format("loss {:.4f}", sum / seen));
      progress.advance(n);
    }
    progress.finish();
    if (seen == 0) break;
    result.losses.push_back(sum / seen);
    spdlog::log(options.quiet ? spdlog::level::debug : spdlog::level::info,
                "pretrain epoch {}/{}  contrastive loss {:.4f}", epoch + 1, config.epochs,
                result.losses.back());
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!model_dir.empty()) {
    result.model_dir = model_dir;
    save(model_dir, net, config, result);
  }
  return result;
}

PretrainResult pretrain_arrays(const ArrayDataset& data, const TrainConfig& config,
                               const fs::path& model_dir, const TrainOptions& options) {
  return pretrain_core(TensorSource(stack_spectrograms(data, config.features)), data.inputs.size(),
                       config, model_dir, options);
}

}  // namespace sax

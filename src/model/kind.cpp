// What every kind shares: mixup and saving the weights.
#include "model/kind.h"

#include <numeric>

namespace sax {

namespace {

double beta_sample(std::mt19937_64& rng, double alpha) {
  std::gamma_distribution<double> gamma(alpha, 1.0);
  const double a = gamma(rng), b = gamma(rng);
  return a + b > 0 ? a / (a + b) : 0.5;
}

}  // namespace

std::pair<torch::Tensor, Targets> mixup(torch::Tensor x, Targets y, double alpha,
                                        std::mt19937_64& rng) {
  if (alpha <= 0) return {x, y};
  const double lambda = beta_sample(rng, alpha);
  std::vector<int64_t> order(static_cast<size_t>(x.size(0)));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const auto perm = torch::tensor(order);
  auto mix = [&](const torch::Tensor& t) {
    return lambda * t + (1 - lambda) * t.index_select(0, perm);
  };
  Targets mixed{mix(y.windows), {}, {}};
  if (y.has_frames())
    mixed.frames = mix(y.frames), mixed.known = y.known * y.known.index_select(0, perm);
  return {mix(x), mixed};
}

void ModelKind::save(const Network& net, const std::filesystem::path& file) const {
  save_weights(*net, file);
}

}  // namespace sax

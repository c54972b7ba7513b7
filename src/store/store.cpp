#include "store/store.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "common/error.h"
#include "store/sql_store.h"

namespace sax {

std::string_view label_name(Label label) {
  switch (label) {
    case Label::sax:
      return "sax";
    case Label::not_sax:
      return "not_sax";
    case Label::unsure:
      return "unsure";
  }
  return "unsure";
}

std::optional<Label> parse_label(std::string_view name) {
  for (Label label : {Label::sax, Label::not_sax, Label::unsure})
    if (label_name(label) == name) return label;
  return std::nullopt;
}

double uncertainty_score(double p, double threshold) {
  const auto logit = [](double q) {
    q = std::clamp(q, 1e-6, 1 - 1e-6);
    return std::log(q / (1 - q));
  };
  return 1 / (1 + std::exp(-(logit(p) - logit(threshold))));
}

Label reconcile(const std::vector<Label>& votes) {
  std::array<int, 3> counts{};
  for (Label label : votes) ++counts[static_cast<size_t>(label)];
  const int sax = counts[static_cast<size_t>(Label::sax)];
  const int not_sax = counts[static_cast<size_t>(Label::not_sax)];
  const int unsure = counts[static_cast<size_t>(Label::unsure)];
  if (sax > not_sax && sax > unsure) return Label::sax;
  if (not_sax > sax && not_sax > unsure) return Label::not_sax;
  return Label::unsure;  // no votes, a tie at the top, or mostly unsure
}

std::unique_ptr<Store> open_store(const Home& home, const std::string& db_url) {
  return make_sql_store(open_database(home, db_url));
}

}  // namespace sax

#include "infer/net_config.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_fields.h"

namespace sax {

namespace jf = json_fields;

int NetConfig::channels_of(int block) const {
  int c = channels;
  for (int b = 0; b < block && c < max_channels; ++b) c *= 2;
  return std::min(c, std::max(channels, max_channels));
}

int NetConfig::kernel_of(int block) const {
  if (kernels.empty()) return 3;
  return kernels[std::min(static_cast<size_t>(block), kernels.size() - 1)];
}

namespace {

void check(bool ok, const std::string& where, const std::string& message) {
  if (!ok) throw Error(fmt::format("{}: {}", where, message));
}

void validate(const NetConfig& c) {
  const std::string w = "net config";
  check(c.depth >= 1 && c.depth <= 10, w, fmt::format("depth must be 1..10, got {}", c.depth));
  check(c.channels >= 1, w, fmt::format("channels must be positive, got {}", c.channels));
  check(c.max_channels >= 1, w,
        fmt::format("max_channels must be positive, got {}", c.max_channels));
  for (int k : c.kernels)
    check(k >= 1 && k % 2 == 1, w, fmt::format("kernels must be odd and positive, got {}", k));
  check(c.dropout >= 0 && c.dropout < 1, w,
        fmt::format("dropout must be in [0, 1), got {}", c.dropout));
  check(c.pool == "max" || c.pool == "avg", w,
        fmt::format("pool must be \"max\" or \"avg\", got \"{}\"", c.pool));
  check(c.hidden >= 0, w, fmt::format("hidden must be 0 or more, got {}", c.hidden));
  check(c.head == "window" || c.head == "frames", w,
        fmt::format("head must be \"window\" or \"frames\", got \"{}\"", c.head));
}

}  // namespace

void to_json(nlohmann::json& j, const NetConfig& c) {
  j = {{"depth", c.depth},     {"channels", c.channels},     {"max_channels", c.max_channels},
       {"kernels", c.kernels}, {"batch_norm", c.batch_norm}, {"dropout", c.dropout},
       {"pool", c.pool},       {"hidden", c.hidden},         {"head", c.head}};
}

void from_json(const nlohmann::json& j, NetConfig& c) {
  const std::string w = "net config";
  jf::require_object(j, w);
  jf::reject_unknown(j,
                     {"depth", "channels", "max_channels", "kernels", "batch_norm", "dropout",
                      "pool", "hidden", "head"},
                     w);
  jf::read(j, "depth", c.depth, w);
  jf::read(j, "channels", c.channels, w);
  jf::read(j, "max_channels", c.max_channels, w);
  jf::read(j, "kernels", c.kernels, w);
  jf::read(j, "batch_norm", c.batch_norm, w);
  jf::read(j, "dropout", c.dropout, w);
  jf::read(j, "pool", c.pool, w);
  jf::read(j, "hidden", c.hidden, w);
  jf::read(j, "head", c.head, w);
  validate(c);
}

}  // namespace sax

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

bool NetConfig::pools_time(int block) const {
  return head != "frames" || (1 << block) < frame_step;
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
  const bool power_of_two = c.frame_step >= 1 && (c.frame_step & (c.frame_step - 1)) == 0;
  check(power_of_two && c.frame_step <= (1 << c.depth), w,
        fmt::format("frame_step must be a power of two from 1 to 2^depth ({}), got {}",
                    1 << c.depth, c.frame_step));
  check(c.gru <= 0 || c.head == "frames", w, "gru needs the frame head (\"head\": \"frames\")");
}

}  // namespace

const auto kNetFields = std::make_tuple(
    jf::field("depth", &NetConfig::depth), jf::field("channels", &NetConfig::channels),
    jf::field("max_channels", &NetConfig::max_channels), jf::field("kernels", &NetConfig::kernels),
    jf::field("batch_norm", &NetConfig::batch_norm), jf::field("dropout", &NetConfig::dropout),
    jf::field("pool", &NetConfig::pool), jf::field("hidden", &NetConfig::hidden),
    jf::field("head", &NetConfig::head), jf::field("frame_step", &NetConfig::frame_step),
    jf::field("gru", &NetConfig::gru));

NetConfig settle_gru(NetConfig net, size_t train_samples) {
  if (net.gru == kGruAuto)
    net.gru = net.head == "frames" && train_samples >= kAutoGruFromSamples ? kAutoGruUnits : 0;
  return net;
}

void require_settled(const NetConfig& net) {
  check(net.gru != kGruAuto, "net config",
        "gru is \"auto\", which training settles by the library's size (settle_gru); a model "
        "names its units");
}

void to_json(nlohmann::json& j, const NetConfig& c) {
  jf::write(j, c, kNetFields);
  if (c.gru == kGruAuto) j["gru"] = "auto";
}

void from_json(const nlohmann::json& j, NetConfig& c) {
  jf::require_object(j, "net config");
  // "gru" is a number of units or "auto" (kGruAuto inside, which no number may imitate).
  auto fields = j;
  if (const auto gru = j.find("gru"); gru != j.end()) {
    const bool units = gru->is_number_integer() && gru->get<int64_t>() >= 0;
    check(units || *gru == "auto", "net config",
          fmt::format("gru must be 0 or more units, or \"auto\", got {}", gru->dump()));
    if (!units) fields["gru"] = kGruAuto;
  }
  jf::read_object(fields, c, kNetFields, "net config");
  validate(c);
}

NetConfig net_of_model(const nlohmann::json& model_description) {
  auto net = model_description.at("net");
  if (net.is_object()) {
    // Fields added after the first model.json, with the value every model had before them.
    static const nlohmann::json kBeforeTheField = {
        {"head", "window"}, {"frame_step", 4}, {"gru", 0}};
    for (const auto& [field, then] : kBeforeTheField.items())
      if (!net.contains(field)) net[field] = then;
  }
  return net.get<NetConfig>();
}

}  // namespace sax

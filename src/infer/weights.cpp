#include "infer/weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

// Bigger headers mean a garbled length, not a model (ours are a few kB).
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void append_u64_le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the weights file", file.string()));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One header entry -> its tensor, checked against the data section's size.
WeightTensor parse_tensor(const std::string& name, const nlohmann::json& entry, const char* data,
                          uint64_t data_size) {
  const auto dtype = entry.at("dtype").get<std::string>();
  if (dtype != "F32")
    throw Error(fmt::format("tensor {} is {}, only F32 is supported", name, dtype));
  WeightTensor t;
  t.shape = entry.at("shape").get<std::vector<int64_t>>();
  const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
  for (int64_t d : t.shape)
    if (d < 0) throw Error(fmt::format("tensor {} has a negative dimension", name));
  const uint64_t bytes = static_cast<uint64_t>(element_count(t.shape)) * sizeof(float);
  if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size ||
      offsets[1] - offsets[0] != bytes)
    throw Error(fmt::format("tensor {}: data offsets do not fit its shape {} and the file", name,
                            shape_text(t.shape)));
  t.values.resize(static_cast<size_t>(element_count(t.shape)));
  std::memcpy(t.values.data(), data + offsets[0], bytes);  // little-endian, as x86 and ARM
  // A diverged training run can save NaN; such a model answers NaN for every window, so it is
  // refused here rather than at the first analysis.
  const auto bad =
      std::find_if(t.values.begin(), t.values.end(), [](float v) { return !std::isfinite(v); });
  if (bad != t.values.end())
    throw Error(fmt::format("tensor {} holds a value that is not finite ({} at index {})", name,
                            *bad, bad - t.values.begin()));
  return t;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

WeightsFile WeightsFile::read(const fs::path& file) {
  const std::string bytes = read_whole_file(file);
  const auto fail = [&](const std::string& why) {
    return Error(fmt::format("{}: not a valid weights file ({})", file.string(), why));
  };
  if (bytes.size() < 8) throw fail("shorter than its 8-byte header length");
  const uint64_t header_size = read_u64_le(reinterpret_cast<const unsigned char*>(bytes.data()));
  if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8)
    throw fail(fmt::format("header length {} exceeds the file", header_size));
  std::map<std::string, WeightTensor> tensors;
  try {
    const auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_size);
    if (!header.is_object()) throw Error("the header is not a JSON object");
    const char* data = bytes.data() + 8 + header_size;
    const uint64_t data_size = bytes.size() - 8 - header_size;
    for (const auto& [name, entry] : header.items())
      if (name != "__metadata__") tensors[name] = parse_tensor(name, entry, data, data_size);
  } catch (const nlohmann::json::exception& e) {
    throw fail(e.what());
  } catch (const Error& e) {
    throw fail(e.what());
  }
  return WeightsFile(file, std::move(tensors));
}

void WeightsFile::write(const fs::path& file) const {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors_) {
    const uint64_t bytes = t.values.size() * sizeof(float);
    header[name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out;
  out.reserve(8 + text.size() + offset);
  append_u64_le(out, text.size());
  out += text;
  for (const auto& [name, t] : tensors_)
    out.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
  write_file_atomically(file, out.data(), out.size());
}

const WeightTensor& WeightsFile::at(const std::string& name,
                                    const std::vector<int64_t>& shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw Error(fmt::format("{}: no tensor {} (the model's architecture differs from model.json?)",
                            file_.string(), name));
  if (it->second.shape != shape)
    throw Error(fmt::format("{}: tensor {} has shape {}, the architecture needs {}", file_.string(),
                            name, shape_text(it->second.shape), shape_text(shape)));
  return it->second;
}

}  // namespace sax

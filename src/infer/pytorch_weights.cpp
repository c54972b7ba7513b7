// PyTorch's torch.save zip format, read without LibTorch: the zip's central directory, a small
// pickle machine for data.pkl (the opcodes a state_dict of tensors uses), and the raw storages.
#include "infer/pytorch_weights.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include <fmt/format.h>

#include "common/error.h"
#include "common/hash.h"

namespace sax {

namespace {

namespace fs = std::filesystem;

uint64_t read_le(std::string_view bytes, size_t at, int size) {
  if (at + size > bytes.size()) throw Error("the file is truncated");
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// ---- zip: stored (uncompressed) entries by name ------------------------------------------

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50,
                   kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;

struct Directory {
  uint64_t entries = 0, offset = 0;
};

Directory find_directory(std::string_view zip) {
  constexpr size_t kEndSize = 22, kMaxComment = 0xffff;
  if (zip.size() < kEndSize) throw Error("too short to be a PyTorch zip file");
  const size_t lowest =
      zip.size() > kEndSize + kMaxComment ? zip.size() - kEndSize - kMaxComment : 0;
  for (size_t at = zip.size() - kEndSize + 1; at-- > lowest;) {
    if (read_le(zip, at, 4) != kEndOfDirectory) continue;
    Directory d{read_le(zip, at + 10, 2), read_le(zip, at + 16, 4)};
    // Zip64: the real counts live in a record its locator, just before this one, points to.
    if ((d.entries == 0xffff || d.offset == 0xffffffff) && at >= 20 &&
        read_le(zip, at - 20, 4) == kZip64Locator) {
      const uint64_t record = read_le(zip, at - 20 + 8, 8);
      if (read_le(zip, record, 4) != kZip64End) throw Error("a broken zip64 directory record");
      d = {read_le(zip, record + 32, 8), read_le(zip, record + 48, 8)};
    }
    return d;
  }
  throw Error("not a zip file (PyTorch's torch.save format); is it truncated?");
}

// Sizes and offsets of 0xffffffff are in the entry's zip64 extra field, in this order.
void apply_zip64_extra(std::string_view extra, uint64_t& size, uint64_t& offset) {
  for (size_t at = 0; at + 4 <= extra.size();) {
    const uint64_t id = read_le(extra, at, 2), length = read_le(extra, at + 2, 2);
    if (id == 1) {
      size_t field = at + 4;
      for (uint64_t* value : {&size, &size, &offset}) {  // uncompressed, compressed, offset
        if (*value != 0xffffffff) continue;
        *value = read_le(extra, field, 8);
        field += 8;
      }
      return;
    }
    at += 4 + length;
  }
}

std::map<std::string, std::string_view> zip_entries(std::string_view zip) {
  const Directory directory = find_directory(zip);
  std::map<std::string, std::string_view> entries;
  size_t at = directory.offset;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (read_le(zip, at, 4) != kDirectoryEntry) throw Error("a broken zip directory");
    const uint64_t method = read_le(zip, at + 10, 2);
    uint64_t size = read_le(zip, at + 24, 4), local = read_le(zip, at + 42, 4);
    const size_t name_length = read_le(zip, at + 28, 2), extra_length = read_le(zip, at + 30, 2),
                 comment_length = read_le(zip, at + 32, 2);
    if (at + 46 + name_length + extra_length > zip.size()) throw Error("the file is truncated");
    std::string name(zip.substr(at + 46, name_length));
    apply_zip64_extra(zip.substr(at + 46 + name_length, extra_length), size, local);
    if (method != 0)
      throw Error(fmt::format("zip entry {} is compressed (PyTorch stores them)", name));
    if (read_le(zip, local, 4) != kLocalHeader) throw Error("a broken zip entry header");
    const uint64_t data = local + 30 + read_le(zip, local + 26, 2) + read_le(zip, local + 28, 2);
    if (data + size > zip.size()) throw Error(fmt::format("zip entry {} is truncated", name));
    entries.emplace(std::move(name), zip.substr(data, size));
    at += 46 + name_length + extra_length + comment_length;
  }
  return entries;
}

// ---- pickle: the subset torch.save writes for a state_dict --------------------------------

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Global {
  std::string module, name;
};
struct Storage {
  std::string dtype, key;  // e.g. "FloatStorage", "0"
};
struct Tensor {
  Storage storage;
  int64_t offset = 0;
  std::vector<int64_t> shape, stride;
};
struct Mark {};
struct Opaque {};  // a value a state_dict of tensors does not need
using Items = std::vector<ValuePtr>;
using Pairs = std::vector<std::pair<ValuePtr, ValuePtr>>;

struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, Global, Storage, Tensor, Mark,
               Opaque, Items, Pairs>
      v;
  bool is_tuple = false;  // Items: a tuple, else a list
};

template <typename T>
ValuePtr make(T value) {
  auto p = std::make_shared<Value>();
  p->v = std::move(value);
  return p;
}

template <typename T>
T& as(const ValuePtr& value, const char* what) {
  if (T* p = std::get_if<T>(&value->v)) return *p;
  throw Error(fmt::format("unexpected pickle data: {} expected", what));
}

std::vector<int64_t> int_tuple(const ValuePtr& value) {
  std::vector<int64_t> out;
  for (const auto& item : as<Items>(value, "a tuple of integers"))
    out.push_back(as<int64_t>(item, "an integer"));
  return out;
}

class Unpickler {
 public:
  explicit Unpickler(std::string_view data) : data_(data) {}

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(byte());
      if (op == '.') return pop();
      step(op);
    }
  }

 private:
  char byte() {
    if (at_ >= data_.size()) throw Error("data.pkl ends early");
    return data_[at_++];
  }
  uint64_t le(int size) {
    const uint64_t v = read_le(data_, at_, size);
    at_ += size;
    return v;
  }
  std::string text(size_t size) {
    if (at_ + size > data_.size()) throw Error("data.pkl ends early");
    std::string s(data_.substr(at_, size));
    at_ += size;
    return s;
  }
  std::string line() {
    const size_t end = data_.find('\n', at_);
    if (end == std::string_view::npos) throw Error("data.pkl ends early");
    std::string s = text(end - at_ + 1);
    s.pop_back();  // the newline
    return s;
  }
  ValuePtr pop() {
    if (stack_.empty()) throw Error("data.pkl pops an empty stack");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Items pop_to_mark() {
    Items items;
    while (true) {
      auto v = pop();
      if (std::holds_alternative<Mark>(v->v)) break;
      items.push_back(std::move(v));
    }
    return {items.rbegin(), items.rend()};
  }
  void push_tuple(Items items) {
    auto t = make(std::move(items));
    t->is_tuple = true;
    stack_.push_back(std::move(t));
  }
  void memoize(uint64_t index) {
    if (stack_.empty()) throw Error("data.pkl memoizes an empty stack");
    memo_[index] = stack_.back();
  }
  void recall(uint64_t index) {
    const auto found = memo_.find(index);
    if (found == memo_.end()) throw Error("data.pkl refers to an unknown memo entry");
    stack_.push_back(found->second);
  }
  void set_items(Items items) {
    auto& pairs = as<Pairs>(stack_.back(), "a dict");
    if (items.size() % 2) throw Error("data.pkl sets a key without a value");
    for (size_t i = 0; i < items.size(); i += 2) pairs.emplace_back(items[i], items[i + 1]);
  }

  void step(unsigned char op);
  ValuePtr reduce(const ValuePtr& callable, const Items& args);
  ValuePtr persistent(const ValuePtr& id);

  std::string_view data_;
  size_t at_ = 0;
  Items stack_;
  std::map<uint64_t, ValuePtr> memo_;
};

void Unpickler::step(unsigned char op) {
  switch (op) {
    case 0x80:
      le(1);
      break;  // PROTO
    case 0x95:
      le(8);
      break;  // FRAME
    case '}':
      stack_.push_back(make(Pairs{}));
      break;  // EMPTY_DICT
    case ']':
      stack_.push_back(make(Items{}));
      break;  // EMPTY_LIST
    case ')':
      push_tuple({});
      break;  // EMPTY_TUPLE
    case '(':
      stack_.push_back(make(Mark{}));
      break;  // MARK
    case 't':
      push_tuple(pop_to_mark());
      break;  // TUPLE
    case 0x85:
      push_tuple({pop()});
      break;      // TUPLE1
    case 0x86: {  // TUPLE2
      auto b = pop(), a = pop();
      push_tuple({a, b});
      break;
    }
    case 0x87: {  // TUPLE3
      auto c = pop(), b = pop(), a = pop();
      push_tuple({a, b, c});
      break;
    }
    case 'X':
      stack_.push_back(make(text(le(4))));
      break;  // BINUNICODE
    case 0x8c:
      stack_.push_back(make(text(le(1))));
      break;  // SHORT_BINUNICODE
    case 0x8d:
      stack_.push_back(make(text(le(8))));
      break;  // BINUNICODE8
    case 'K':
      stack_.push_back(make<int64_t>(le(1)));
      break;  // BININT1
    case 'M':
      stack_.push_back(make<int64_t>(le(2)));
      break;   // BININT2
    case 'J':  // BININT
      stack_.push_back(make<int64_t>(static_cast<int32_t>(le(4))));
      break;
    case 0x8a: {  // LONG1: n little-endian two's complement bytes
      const auto n = static_cast<int>(le(1));
      if (n > 8) throw Error("data.pkl holds an integer too large for 64 bits");
      uint64_t v = n ? le(n) : 0;
      if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
      stack_.push_back(make(static_cast<int64_t>(v)));
      break;
    }
    case 'G': {  // BINFLOAT, big-endian
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(byte());
      double d;
      std::memcpy(&d, &bits, sizeof d);
      stack_.push_back(make(d));
      break;
    }
    case 0x88:
      stack_.push_back(make(true));
      break;  // NEWTRUE
    case 0x89:
      stack_.push_back(make(false));
      break;  // NEWFALSE
    case 'N':
      stack_.push_back(make(std::monostate{}));
      break;
    case 'c': {  // GLOBAL
      auto module = line();
      stack_.push_back(make(Global{module, line()}));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      auto name = pop(), module = pop();
      stack_.push_back(make(Global{as<std::string>(module, "a module name"),
                                   as<std::string>(name, "a global name")}));
      break;
    }
    case 'q':
      memoize(le(1));
      break;  // BINPUT
    case 'r':
      memoize(le(4));
      break;  // LONG_BINPUT
    case 0x94:
      memoize(memo_.size());
      break;  // MEMOIZE
    case 'h':
      recall(le(1));
      break;  // BINGET
    case 'j':
      recall(le(4));
      break;  // LONG_BINGET
    case 'Q':
      stack_.push_back(persistent(pop()));
      break;     // BINPERSID
    case 'R': {  // REDUCE
      auto args = pop(), callable = pop();
      stack_.push_back(reduce(callable, as<Items>(args, "an argument tuple")));
      break;
    }
    case 0x81: {  // NEWOBJ
      pop();
      pop();
      stack_.push_back(make(Opaque{}));
      break;
    }
    case 'b':
      pop();
      break;     // BUILD: state for the object below (OrderedDict metadata)
    case 's': {  // SETITEM
      auto value = pop(), key = pop();
      set_items({key, value});
      break;
    }
    case 'u':
      set_items(pop_to_mark());
      break;     // SETITEMS
    case 'a': {  // APPEND
      auto value = pop();
      as<Items>(stack_.back(), "a list").push_back(value);
      break;
    }
    case 'e': {  // APPENDS
      auto items = pop_to_mark();
      auto& list = as<Items>(stack_.back(), "a list");
      list.insert(list.end(), items.begin(), items.end());
      break;
    }
    default:
      throw Error(fmt::format("data.pkl uses pickle opcode 0x{:02x}, not supported", op));
  }
}

// ('storage', torch.FloatStorage, key, location, numel)
ValuePtr Unpickler::persistent(const ValuePtr& id) {
  const auto& items = as<Items>(id, "a storage id");
  if (items.size() < 3) throw Error("data.pkl holds a storage id that is too short");
  return make(Storage{as<Global>(items[1], "a storage type").name,
                      as<std::string>(items[2], "a storage key")});
}

ValuePtr Unpickler::reduce(const ValuePtr& callable, const Items& args) {
  const auto* global = std::get_if<Global>(&callable->v);
  if (!global) return make(Opaque{});
  const std::string name = global->module + "." + global->name;
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    if (args.size() < 4) throw Error("data.pkl rebuilds a tensor with too few arguments");
    return make(Tensor{as<Storage>(args[0], "a storage"), as<int64_t>(args[1], "an offset"),
                       int_tuple(args[2]), int_tuple(args[3])});
  }
  if (name == "torch._utils._rebuild_parameter") {
    if (args.empty()) throw Error("data.pkl rebuilds a parameter without its tensor");
    return args[0];
  }
  if (name == "collections.OrderedDict") return make(Pairs{});
  return make(Opaque{});
}

// ---- tensors -------------------------------------------------------------------------------

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool contiguous(const Tensor& t) {
  int64_t expected = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] != 1 && t.stride[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

template <typename T>
void convert(std::string_view bytes, int64_t offset, int64_t count, std::vector<float>& out) {
  if (static_cast<uint64_t>(offset + count) * sizeof(T) > bytes.size())
    throw Error("its storage is shorter than the tensor");
  out.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, bytes.data() + (offset + i) * sizeof(T), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<float>(v);
  }
}

// Float tensors as they are; integer buffers (batch norm's num_batches_tracked) as float, as
// WeightsFile holds every tensor.
WeightTensor to_weights(const Tensor& t, std::string_view storage) {
  if (t.shape.size() != t.stride.size() || !contiguous(t))
    throw Error("it is not a contiguous tensor");
  for (int64_t d : t.shape)
    if (d < 0) throw Error("it has a negative dimension");
  WeightTensor w;
  w.shape = t.shape;
  const int64_t n = element_count(t.shape);
  if (t.storage.dtype == "FloatStorage")
    convert<float>(storage, t.offset, n, w.values);
  else if (t.storage.dtype == "DoubleStorage")
    convert<double>(storage, t.offset, n, w.values);
  else if (t.storage.dtype == "LongStorage")
    convert<int64_t>(storage, t.offset, n, w.values);
  else
    throw Error(fmt::format("its storage is {}, not float32", t.storage.dtype));
  return w;
}

std::string archive_prefix(const std::map<std::string, std::string_view>& entries) {
  for (const auto& [name, data] : entries) {
    const std::string suffix = "data.pkl";
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        name.find("/data/") == std::string::npos)
      return name.substr(0, name.size() - suffix.size());
  }
  throw Error("no data.pkl inside: not a PyTorch file");
}

std::map<std::string, WeightTensor> tensors_of(std::string_view bytes) {
  const auto entries = zip_entries(bytes);
  const std::string prefix = archive_prefix(entries);
  const auto root = Unpickler(entries.at(prefix + "data.pkl")).run();
  const auto* pairs = std::get_if<Pairs>(&root->v);
  if (!pairs) throw Error("data.pkl is not a state_dict (a dict of tensors)");
  std::map<std::string, WeightTensor> tensors;
  for (const auto& [key, value] : *pairs) {
    const auto* tensor = std::get_if<Tensor>(&value->v);
    if (!tensor) continue;  // metadata, not weights
    const auto& name = as<std::string>(key, "a tensor name");
    const auto storage = entries.find(prefix + "data/" + tensor->storage.key);
    if (storage == entries.end())
      throw Error(fmt::format("tensor {}: its storage is missing", name));
    try {
      tensors.emplace(name, to_weights(*tensor, storage->second));
    } catch (const Error& e) {
      throw Error(fmt::format("tensor {}: {}", name, e.what()));
    }
  }
  if (tensors.empty()) throw Error("data.pkl holds no tensors");
  return tensors;
}

}  // namespace

WeightsFile parse_pytorch_state_dict(std::string_view bytes, const fs::path& name) {
  try {
    return WeightsFile(name, tensors_of(bytes));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", name.string(), e.what()));
  }
}

WeightsFile read_pytorch_state_dict(const fs::path& file, const std::string& expected_sha256) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the weights file", file.string()));
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  if (!expected_sha256.empty()) {
    const auto actual = sha256_bytes(bytes.data(), bytes.size());
    if (actual != expected_sha256)
      throw Error(
          fmt::format("{}: SHA-256 {} differs from the expected {}: a damaged or different file",
                      file.string(), actual, expected_sha256));
  }
  return parse_pytorch_state_dict(bytes, file);
}

}  // namespace sax

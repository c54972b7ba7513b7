#include "web/sessions.h"

#include <sys/random.h>

#include <array>

#include "web/validation.h"

namespace sax::web {

namespace {

// 32 bytes from the kernel's generator, as hex: a token nobody can guess.
std::string random_token() {
  std::array<unsigned char, 32> bytes{};
  size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot draw a session token from the system's random generator");
    }
    filled += static_cast<size_t>(got);
  }
  static const char* const kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

}  // namespace

std::string Sessions::free_name(const std::string& name) const {
  if (!holder_.count(name)) return name;
  for (int n = 2;; ++n) {
    const std::string candidate = name + " (" + std::to_string(n) + ")";
    if (candidate.size() > kMaxAnnotatorLength)
      throw HttpError(409, "name: " + name + " is taken by another labeller; choose another");
    if (!holder_.count(candidate)) return candidate;
  }
}

Sessions::Opened Sessions::open(const std::string& name, const std::string& token) {
  const std::lock_guard<std::mutex> lock(mutex_);
  auto live = sessions_.find(token);
  if (live != sessions_.end()) {
    if (live->second.name == name) return {token, name};
    holder_.erase(live->second.name);  // the session changes its name
    live->second = Session{free_name(name), {}};
    holder_[live->second.name] = token;
    return {token, live->second.name};
  }
  if (sessions_.size() >= kMaxSessions)
    throw HttpError(503, "session: too many labellers at once; try again later");
  Opened opened{random_token(), free_name(name)};
  sessions_[opened.token] = Session{opened.name, {}};
  holder_[opened.name] = opened.token;
  return opened;
}

std::optional<std::string> Sessions::name_of(const std::string& token) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = sessions_.find(token);
  if (found == sessions_.end()) return std::nullopt;
  return found->second.name;
}

void Sessions::voted(const std::string& token, int64_t sample_id) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (auto found = sessions_.find(token); found != sessions_.end())
    found->second.voted.insert(sample_id);
}

bool Sessions::has_votes(const std::string& token) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = sessions_.find(token);
  return found != sessions_.end() && !found->second.voted.empty();
}

void Sessions::undone(const std::string& token, int64_t sample_id) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (auto found = sessions_.find(token); found != sessions_.end())
    found->second.voted.erase(sample_id);
}

std::string cookie_value(const std::string& header, const std::string& name) {
  size_t start = 0;
  while (start < header.size()) {
    const size_t end = std::min(header.find(';', start), header.size());
    size_t first = header.find_first_not_of(' ', start);
    if (first < end && header.compare(first, name.size() + 1, name + "=") == 0)
      return header.substr(first + name.size() + 1, end - first - name.size() - 1);
    start = end + 1;
  }
  return "";
}

}  // namespace sax::web

#include "ingest/source_ingest.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "audio/audio.h"
#include "common/error.h"
#include "common/hash.h"
#include "ingest/sample_folder.h"

namespace sax::ingest_detail {

namespace fs = std::filesystem;

namespace {

// Our flock on the sample folder already proves no other process works on this source, so
// any claim in the store, however recent, belongs to a dead run and may be taken over.
constexpr double kLeaseWhenLocked = 0;
// Claims are renewed this often so other tools reading the store see the source is alive.
constexpr auto kRenewEvery = std::chrono::seconds(30);

int64_t to_ms(double seconds) { return std::llround(seconds * 1000); }

std::string tag(const AudioInfo& info, const char* key) {
  auto found = info.tags.find(key);
  return found == info.tags.end() ? "" : found->second;
}

Source describe_source(const fs::path& path, const std::string& hash, const AudioInfo& info) {
  Source source;
  source.path = fs::absolute(path).lexically_normal().string();
  source.hash = hash;
  source.duration = info.duration;
  source.sample_rate = info.sample_rate;
  source.channels = info.channels;
  source.codec = info.codec;
  source.title = tag(info, "title");
  source.artist = tag(info, "artist");
  source.album = tag(info, "album");
  return source;
}

// Cuts the decoded stream into windows of `length` samples whose starts are `hop` apart.
class Cutter {
 public:
  Cutter(Decoder& decoder, size_t length, size_t hop)
      : decoder_(decoder), window_(length), hop_(hop) {}

  // Fills the next window; false when the stream ends first (what is left is the tail).
  bool next() {
    if (started_) advance();
    started_ = true;
    const size_t got = decoder_.read(window_.data() + filled_, window_.size() - filled_);
    filled_ += got;
    decoded_ += got;
    if (filled_ < window_.size()) return false;
    ++windows_;
    return true;
  }

  const std::vector<float>& window() const { return window_; }
  size_t start() const { return (windows_ - 1) * hop_; }  // of the current window
  size_t decoded() const { return decoded_; }
  // Decoded samples after the end of the last whole window.
  size_t tail() const {
    const size_t covered = windows_ ? (windows_ - 1) * hop_ + window_.size() : 0;
    return decoded_ > covered ? decoded_ - covered : 0;
  }

 private:
  void advance() {
    if (hop_ < window_.size()) {  // overlapping windows: keep the shared part
      std::memmove(window_.data(), window_.data() + hop_, (window_.size() - hop_) * sizeof(float));
      filled_ = window_.size() - hop_;
    } else {
      decoded_ += decoder_.skip(hop_ - window_.size());
      filled_ = 0;
    }
  }

  Decoder& decoder_;
  std::vector<float> window_;
  size_t hop_;
  size_t filled_ = 0;
  size_t decoded_ = 0;
  size_t windows_ = 0;
  bool started_ = false;
};

class SourceIngester {
 public:
  SourceIngester(const fs::path& path, const IngestContext& context)
      : path_(path), context_(context), rate_(context.options.rate) {}

  SourceResult run();

 private:
  void cut_and_store(Decoder& decoder, int64_t source_id, SampleFolder& folder,
                     const std::set<int64_t>& done_starts);
  void store_clip(const std::vector<float>& clip, double start, int64_t source_id,
                  SampleFolder& folder);

  fs::path path_;
  const IngestContext& context_;
  int rate_;
  SourceResult result_;
};

SourceResult SourceIngester::run() {
  const std::string hash = sha256_file(path_);
  if (auto known = context_.store.source_by_hash(hash); known && known->state == "done")
    return result_;               // skipped: same content already ingested
  Decoder decoder(path_, rate_);  // first, so a bad file leaves nothing behind
  SampleFolder folder(context_.home, hash);
  if (!folder.try_lock()) {
    result_.outcome = Outcome::busy;
    return result_;
  }
  const Source source = describe_source(path_, hash, decoder.info());
  const ClaimResult claim = context_.store.claim_source(source, context_.worker, kLeaseWhenLocked);
  if (claim.claim == Claim::already_done) return result_;
  if (claim.claim == Claim::busy) {
    result_.outcome = Outcome::busy;
    return result_;
  }
  // Samples a killed run committed stay; files it left without a record go.
  std::set<int64_t> done_starts;
  std::set<std::string> recorded;
  for (const Sample& sample : context_.store.samples_of(claim.source_id)) {
    done_starts.insert(to_ms(sample.start));
    recorded.insert(sample.path);
    recorded.insert(sample.web_path);
  }
  result_.stray_files_removed = folder.remove_unrecorded(recorded);
  if (claim.claim == Claim::resumed)
    spdlog::debug("{}: resuming ({} samples already stored)", path_.string(), done_starts.size());
  cut_and_store(decoder, claim.source_id, folder, done_starts);
  context_.store.finish_source(claim.source_id, result_.audio_seconds);
  result_.outcome = Outcome::ingested;
  return result_;
}

void SourceIngester::cut_and_store(Decoder& decoder, int64_t source_id, SampleFolder& folder,
                                   const std::set<int64_t>& done_starts) {
  const auto length = static_cast<size_t>(std::llround(context_.options.length * rate_));
  const auto hop = static_cast<size_t>(std::llround(context_.options.hop * rate_));
  Cutter cutter(decoder, length, hop);
  auto last_renewal = std::chrono::steady_clock::now();
  size_t reported = 0;
  while (cutter.next()) {
    const double start = static_cast<double>(cutter.start()) / rate_;
    if (!done_starts.count(to_ms(start))) store_clip(cutter.window(), start, source_id, folder);
    context_.progress.advance(0, static_cast<double>(cutter.decoded() - reported) / rate_);
    reported = cutter.decoded();
    if (std::chrono::steady_clock::now() - last_renewal > kRenewEvery) {
      context_.store.renew_claim(source_id, context_.worker);
      last_renewal = std::chrono::steady_clock::now();
    }
  }
  context_.progress.advance(0, static_cast<double>(cutter.decoded() - reported) / rate_);
  result_.audio_seconds = static_cast<double>(cutter.decoded()) / rate_;
  result_.tail_seconds = static_cast<double>(cutter.tail()) / rate_;
}

// Both files are written under temp names and renamed inside the store's transaction, so a
// record never exists without its files; files without a record are removed on the next run.
void SourceIngester::store_clip(const std::vector<float>& clip, double start, int64_t source_id,
                                SampleFolder& folder) {
  Sample sample;
  sample.source_id = source_id;
  sample.start = start;
  sample.duration = static_cast<double>(clip.size()) / rate_;
  sample.path = folder.clip_path(to_ms(start), ".flac");
  sample.web_path = folder.clip_path(to_ms(start), context_.options.web_extension);
  sample.hash = sha256_bytes(clip.data(), clip.size() * sizeof(float));
  sample.rms = rms(clip.data(), clip.size());
  sample.silent = is_digital_silence(clip.data(), clip.size());

  const fs::path lossless_temp = folder.temp_path(sample.path);
  const fs::path web_temp = folder.temp_path(sample.web_path);
  write_audio(lossless_temp, clip, rate_);
  write_audio(web_temp, clip, rate_, context_.options.web_bitrate_kbps);
  context_.store.add_sample(sample, [&] {
    fs::rename(lossless_temp, folder.absolute(sample.path));
    fs::rename(web_temp, folder.absolute(sample.web_path));
  });
  ++result_.samples;
  if (sample.silent) ++result_.silent;
}

}  // namespace

SourceResult ingest_source(const fs::path& path, const IngestContext& context) {
  return SourceIngester(path, context).run();
}

size_t clean_interrupted_sources(Store& store, const Home& home) {
  size_t removed = 0;
  for (const Source& source : store.sources()) {
    if (source.state == "done") continue;
    SampleFolder folder(home, source.hash);
    if (!folder.try_lock()) continue;  // a live run is working on it
    std::set<std::string> recorded;
    for (const Sample& sample : store.samples_of(source.id)) {
      recorded.insert(sample.path);
      recorded.insert(sample.web_path);
    }
    removed += folder.remove_unrecorded(recorded);
  }
  return removed;
}

}  // namespace sax::ingest_detail

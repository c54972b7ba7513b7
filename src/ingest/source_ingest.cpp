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

// A file that keeps changing while it is read (a download or a recording in progress) is
// refused after this many reads.
constexpr size_t kReadsOfAChangingFile = 3;

int64_t to_ms(double seconds) { return std::llround(seconds * 1000); }

// What writing to a file changes: its size and its modification time.
struct FileStamp {
  uintmax_t size = 0;
  fs::file_time_type modified;
  bool operator!=(const FileStamp& other) const {
    return size != other.size || modified != other.modified;
  }
};

// A file that went away reads as changed too: what was recorded of it can no longer be checked.
FileStamp stamp_of(const fs::path& path) {
  std::error_code size_error, time_error;
  FileStamp stamp{fs::file_size(path, size_error), fs::last_write_time(path, time_error)};
  if (size_error || time_error) return {static_cast<uintmax_t>(-1), {}};
  return stamp;
}

// The file changed since it was hashed, so what is read from it now may not be what the hash
// names.
class FileChanged : public std::runtime_error {
 public:
  FileChanged() : std::runtime_error("the file changed while it was being ingested") {}
};

// The clips a source's folder keeps: its samples', and those retired votes point at (content
// replaced once and ingested again has its folder back, retired clips included).
std::set<std::string> clips_to_keep(Store& store, const std::vector<Sample>& samples) {
  std::set<std::string> keep;
  for (const Sample& sample : samples) keep.insert({sample.path, sample.web_path});
  for (const RetiredVote& vote : store.retired_votes())
    keep.insert({vote.sample_path, vote.web_path});
  return keep;
}

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

  void check_unchanged() const;
  void record_replacement(const Replacement& replaced);
  void remove_clips(const std::vector<std::string>& clips) const;

  fs::path path_;
  const IngestContext& context_;
  int rate_;
  FileStamp stamp_;  // taken before hashing
  SourceResult result_;
};

// Every sample comes from the content the hash names: the file's stamp, taken before hashing,
// is checked again before each sample is recorded and before the source is finished. A write
// moves the stamp, so when it has not moved everything read so far was hashed. When it has,
// this read's samples are dropped (FileChanged), and ingest_source reads the file again.
SourceResult SourceIngester::run() {
  stamp_ = stamp_of(path_);
  const std::string hash = sha256_file(path_);
  check_unchanged();
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
  const std::vector<Sample> stored = context_.store.samples_of(claim.source_id);
  std::set<int64_t> done_starts;
  for (const Sample& sample : stored) done_starts.insert(to_ms(sample.start));
  result_.stray_files_removed = folder.remove_unrecorded(clips_to_keep(context_.store, stored));
  if (claim.claim == Claim::resumed)
    spdlog::debug("{}: resuming ({} samples already stored)", path_.string(), done_starts.size());
  try {
    cut_and_store(decoder, claim.source_id, folder, done_starts);
    check_unchanged();
  } catch (const FileChanged&) {
    remove_clips(context_.store.drop_source(claim.source_id).unused_clips);
    throw;
  }
  record_replacement(context_.store.finish_source(claim.source_id, result_.audio_seconds));
  result_.outcome = Outcome::ingested;
  return result_;
}

void SourceIngester::check_unchanged() const {
  if (stamp_of(path_) != stamp_) throw FileChanged();
}

void SourceIngester::record_replacement(const Replacement& replaced) {
  result_.sources_replaced += replaced.sources;
  result_.votes_moved += replaced.votes_moved;
  result_.votes_retired += replaced.votes_retired;
  remove_clips(replaced.unused_clips);
  if (replaced.sources)
    spdlog::debug("{}: replaced {} older sources ({} votes moved, {} retired)", path_.string(),
                  replaced.sources, replaced.votes_moved, replaced.votes_retired);
}

// Clips of removed samples that no vote needs; one that cannot be removed is only left over.
void SourceIngester::remove_clips(const std::vector<std::string>& clips) const {
  for (const std::string& clip : clips) {
    std::error_code ignored;
    fs::remove(context_.home.root / clip, ignored);
  }
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
  check_unchanged();  // before anything of this clip is written
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
  for (size_t reads = 1;; ++reads) {
    try {
      SourceResult result = SourceIngester(path, context).run();
      result.rescans = reads - 1;
      return result;
    } catch (const FileChanged&) {
      if (reads == kReadsOfAChangingFile)
        throw Error(path.string() + ": changed while it was being ingested, " +
                    std::to_string(reads) +
                    " reads in a row (its size or modification time moved); not recorded: "
                    "ingest it again once it is complete");
      spdlog::debug("{}: changed while it was being ingested; reading it again", path.string());
    }
  }
}

size_t clean_interrupted_sources(Store& store, const Home& home) {
  size_t removed = 0;
  for (const Source& source : store.sources()) {
    if (source.state == "done") continue;
    SampleFolder folder(home, source.hash);
    if (!folder.try_lock()) continue;  // a live run is working on it
    removed += folder.remove_unrecorded(clips_to_keep(store, store.samples_of(source.id)));
  }
  return removed;
}

}  // namespace sax::ingest_detail

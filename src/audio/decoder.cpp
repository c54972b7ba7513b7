// Streaming decoder and header probe over libavformat/libavcodec/libswresample.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "audio/audio.h"
#include "audio/ffmpeg.h"
#include "common/error.h"

namespace sax {

namespace fs = std::filesystem;
using namespace ffmpeg;

namespace {

// A corrupt file can yield an endless run of bad packets; past this many in a row we stop and
// keep what decoded (a truncated or damaged file gives its good part, never a hang).
constexpr int kMaxConsecutiveErrors = 1000;

// Float formats (WAV, FLAC, AIFF) can carry any bit pattern. Full scale is 1; a float master
// may peak a little above it, but a sample beyond this is garbage, and NaN, infinity or 1e30
// turn the log-mel features into NaN, which no threshold can place.
constexpr float kMaxAmplitude = 1000.0f;

[[noreturn]] void fail(const fs::path& path, const std::string& reason) {
  throw Error(path.string() + ": " + reason);
}

// Rejects what FFmpeg would report with a vague message (missing, folder, empty) first.
void check_readable_file(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) fail(path, "no such file");
  if (fs::is_directory(status)) fail(path, "is a folder, not an audio file");
  if (fs::file_size(path, ec) == 0 && !ec) fail(path, "empty file (0 bytes)");
}

struct OpenedInput {
  InputPtr input;
  int stream = -1;
};

OpenedInput open_audio_input(const fs::path& path) {
  silence_library_logging();
  check_readable_file(path);
  AVFormatContext* raw = nullptr;
  if (int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); err < 0)
    fail(path, err == AVERROR_INVALIDDATA ? "not an audio file (unrecognised format)"
                                          : "cannot open (" + error_text(err) + ")");
  OpenedInput opened{InputPtr(raw)};
  if (int err = avformat_find_stream_info(raw, nullptr); err < 0)
    fail(path, "cannot read stream information (" + error_text(err) + ")");
  opened.stream = av_find_best_stream(raw, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (opened.stream < 0) fail(path, "no audio stream");
  for (unsigned i = 0; i < raw->nb_streams; ++i)
    if (static_cast<int>(i) != opened.stream) raw->streams[i]->discard = AVDISCARD_ALL;
  return opened;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Container tags first, then stream tags (Ogg keeps its comments on the stream).
void collect_tags(const AVDictionary* dict, std::map<std::string, std::string>& tags) {
  const AVDictionaryEntry* entry = nullptr;
  while ((entry = av_dict_get(dict, "", entry, AV_DICT_IGNORE_SUFFIX)))
    tags.emplace(lower(entry->key), entry->value);
}

AudioInfo describe(const AVFormatContext* input, int stream_index) {
  const AVStream* stream = input->streams[stream_index];
  const AVCodecParameters* par = stream->codecpar;
  AudioInfo info;
  if (input->duration != AV_NOPTS_VALUE && input->duration > 0)
    info.duration = static_cast<double>(input->duration) / AV_TIME_BASE;
  else if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
    info.duration = static_cast<double>(stream->duration) * av_q2d(stream->time_base);
  info.sample_rate = par->sample_rate;
  info.channels = par->ch_layout.nb_channels;
  info.codec = avcodec_get_name(par->codec_id);
  info.format = input->iformat->name;
  collect_tags(input->metadata, info.tags);
  collect_tags(stream->metadata, info.tags);
  return info;
}

}  // namespace

struct Decoder::Impl {
  fs::path path;
  int target_rate = 0;
  AudioInfo info;
  InputPtr input;
  int stream = -1;
  CodecPtr codec;
  ResamplerPtr resampler;
  PacketPtr packet{av_packet_alloc()};
  FramePtr frame{av_frame_alloc()};
  // The resampler's current input shape; a stream may change it mid-file (e.g. mono to stereo).
  int in_format = -1, in_rate = 0, in_channels = 0;
  std::vector<float> pending;  // decoded mono samples not yet handed out
  size_t pending_pos = 0;
  bool demuxer_done = false;
  bool finished = false;
  int consecutive_errors = 0;
  size_t produced = 0;  // mono samples converted so far, for the time in messages

  void open_codec();
  void check_finite(const float* samples, size_t count) const;
  void configure_resampler(const AVFrame& source);
  void append_converted(const uint8_t** data, int count);
  void flush_resampler();
  bool next_packet();
  bool refill();
  size_t available() const { return pending.size() - pending_pos; }
};

void Decoder::Impl::open_codec() {
  const AVCodecParameters* par = input->streams[stream]->codecpar;
  const AVCodec* decoder = avcodec_find_decoder(par->codec_id);
  if (!decoder) fail(path, std::string("unsupported codec ") + avcodec_get_name(par->codec_id));
  codec.reset(avcodec_alloc_context3(decoder));
  if (!codec || avcodec_parameters_to_context(codec.get(), par) < 0)
    fail(path, "cannot set up the decoder");
  codec->thread_count = 1;  // parallelism comes from ingesting several files at once
  if (int err = avcodec_open2(codec.get(), decoder, nullptr); err < 0)
    fail(path,
         "cannot open the " + std::string(decoder->name) + " decoder (" + error_text(err) + ")");
}

// Mono is the plain average of all channels: a channel panned hard left keeps half its level,
// a centred signal keeps all of it, and the sum can never clip.
void Decoder::Impl::configure_resampler(const AVFrame& source) {
  AVChannelLayout in_layout{};
  if (source.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || source.ch_layout.nb_channels == 0)
    av_channel_layout_default(&in_layout, std::max(1, source.ch_layout.nb_channels));
  else
    av_channel_layout_copy(&in_layout, &source.ch_layout);
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  SwrContext* raw = nullptr;
  int err = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, target_rate, &in_layout,
                                static_cast<AVSampleFormat>(source.format), source.sample_rate, 0,
                                nullptr);
  resampler.reset(raw);
  const int channels = in_layout.nb_channels;
  av_channel_layout_uninit(&in_layout);
  if (err < 0) fail(path, "cannot set up resampling (" + error_text(err) + ")");
  std::vector<double> weights(channels, 1.0 / channels);
  swr_set_matrix(raw, weights.data(), channels);
  if ((err = swr_init(raw)) < 0) fail(path, "cannot set up resampling (" + error_text(err) + ")");
  in_format = source.format;
  in_rate = source.sample_rate;
  in_channels = channels;
}

void Decoder::Impl::append_converted(const uint8_t** data, int count) {
  const int room = swr_get_out_samples(resampler.get(), count);
  if (room <= 0) return;
  if (pending_pos > 0 && pending_pos == pending.size()) {
    pending.clear();
    pending_pos = 0;
  }
  const size_t old_size = pending.size();
  pending.resize(old_size + room);
  auto* out = reinterpret_cast<uint8_t*>(pending.data() + old_size);
  const int got = swr_convert(resampler.get(), &out, room, data, count);
  pending.resize(old_size + std::max(got, 0));
  check_finite(pending.data() + old_size, pending.size() - old_size);
  produced += pending.size() - old_size;
}

// Refuses the file rather than repairing it: a stream holding such samples was not written as
// audio, and zeroing them would analyse a different song without a word.
void Decoder::Impl::check_finite(const float* samples, size_t count) const {
  for (size_t i = 0; i < count; ++i) {
    if (std::isfinite(samples[i]) && std::fabs(samples[i]) <= kMaxAmplitude) continue;
    char at[64];
    std::snprintf(at, sizeof at, " from %.2f s on",
                  static_cast<double>(produced + i) / target_rate);
    fail(path,
         std::string("holds samples that are not audio (NaN, infinite or beyond ±1000)") + at);
  }
}

void Decoder::Impl::flush_resampler() {
  if (resampler) append_converted(nullptr, 0);
}

// Feeds the decoder one packet of our stream. Read errors (truncation, I/O) end the stream:
// the caller keeps whatever decoded before them.
bool Decoder::Impl::next_packet() {
  while (true) {
    if (av_read_frame(input.get(), packet.get()) < 0) {
      demuxer_done = true;
      avcodec_send_packet(codec.get(), nullptr);  // enter draining mode
      return false;
    }
    const bool ours = packet->stream_index == stream;
    const int err = ours ? avcodec_send_packet(codec.get(), packet.get()) : 0;
    av_packet_unref(packet.get());
    if (!ours) continue;
    if (err < 0 && err != AVERROR(EAGAIN) && ++consecutive_errors > kMaxConsecutiveErrors) {
      demuxer_done = true;
      avcodec_send_packet(codec.get(), nullptr);
      return false;
    }
    return true;
  }
}

// Decodes until some mono samples are pending or the stream ends. Returns false at the end.
bool Decoder::Impl::refill() {
  while (!finished) {
    const int err = avcodec_receive_frame(codec.get(), frame.get());
    if (err == AVERROR(EAGAIN) && !demuxer_done) {
      next_packet();
      continue;
    }
    if (err == AVERROR_EOF || err == AVERROR(EAGAIN) ||
        (err < 0 && ++consecutive_errors > kMaxConsecutiveErrors)) {
      flush_resampler();
      finished = true;
      break;
    }
    if (err < 0) continue;  // one bad frame: skip it
    consecutive_errors = 0;
    if (frame->format != in_format || frame->sample_rate != in_rate ||
        frame->ch_layout.nb_channels != in_channels) {
      flush_resampler();
      configure_resampler(*frame);
    }
    append_converted(const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
    av_frame_unref(frame.get());
    if (available() > 0) return true;
  }
  return available() > 0;
}

Decoder::Decoder(const fs::path& path, int target_rate) : impl_(std::make_unique<Impl>()) {
  if (target_rate <= 0) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  impl_->path = path;
  impl_->target_rate = target_rate;
  OpenedInput opened = open_audio_input(path);
  impl_->input = std::move(opened.input);
  impl_->stream = opened.stream;
  impl_->info = describe(impl_->input.get(), impl_->stream);
  impl_->open_codec();
  // Decode the first block now so that a file with nothing decodable fails here, at open.
  if (!impl_->refill()) fail(path, "no audio could be decoded (corrupt or truncated file)");
}

Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

const AudioInfo& Decoder::info() const { return impl_->info; }
int Decoder::sample_rate() const { return impl_->target_rate; }

size_t Decoder::read(float* out, size_t count) {
  size_t written = 0;
  while (written < count && (impl_->available() > 0 || impl_->refill())) {
    const size_t n = std::min(count - written, impl_->available());
    std::copy_n(impl_->pending.data() + impl_->pending_pos, n, out + written);
    impl_->pending_pos += n;
    written += n;
  }
  return written;
}

size_t Decoder::skip(size_t count) {
  size_t skipped = 0;
  while (skipped < count && (impl_->available() > 0 || impl_->refill())) {
    const size_t n = std::min(count - skipped, impl_->available());
    impl_->pending_pos += n;
    skipped += n;
  }
  return skipped;
}

std::vector<float> decode_mono(const fs::path& path, int rate) {
  Decoder decoder(path, rate);
  std::vector<float> samples;
  if (decoder.info().duration > 0)
    samples.reserve(static_cast<size_t>(decoder.info().duration * rate) + rate);
  std::vector<float> block(1 << 16);
  while (size_t n = decoder.read(block.data(), block.size()))
    samples.insert(samples.end(), block.begin(), block.begin() + n);
  return samples;
}

AudioInfo probe_audio(const fs::path& path) {
  OpenedInput opened = open_audio_input(path);
  return describe(opened.input.get(), opened.stream);
}

}  // namespace sax

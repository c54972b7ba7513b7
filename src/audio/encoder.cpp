// write_audio: float samples to any of our formats through libavformat/libavcodec.
#include <algorithm>
#include <cctype>
#include <system_error>

#include "audio/audio.h"
#include "audio/ffmpeg.h"
#include "common/error.h"

namespace sax {

namespace fs = std::filesystem;
using namespace ffmpeg;

namespace {

struct FormatChoice {
  const char* muxer;
  const char* encoder;
  bool lossy;
  int compression_level = FF_COMPRESSION_DEFAULT;
};

// LAME's "-q 7" (its documented fast setting) encodes about 1.7x faster than the default with
// little audible loss at our bitrates; MP3 encoding is the largest cost of ingesting a library.
constexpr int kLameFastQuality = 7;

// Encoders with variable frame size (PCM) take the input in blocks of this many frames.
constexpr int kVariableFrameSize = 4096;

[[noreturn]] void fail(const fs::path& path, const std::string& reason) {
  throw Error(path.string() + ": " + reason);
}

FormatChoice choose_format(const fs::path& path) {
  std::string ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".wav") return {"wav", "pcm_s16le", false};
  if (ext == ".flac") return {"flac", "flac", false};
  if (ext == ".mp3") return {"mp3", "libmp3lame", true, kLameFastQuality};
  if (ext == ".ogg") return {"ogg", "libvorbis", true};
  if (ext == ".opus") return {"opus", "libopus", true};
  if (ext == ".m4a") return {"mp4", "aac", true};
  if (ext == ".aiff" || ext == ".aif") return {"aiff", "pcm_s16be", false};
  fail(path, "cannot write audio with extension '" + ext +
                 "' (use .wav .flac .mp3 .ogg .opus .m4a .aiff)");
}

// The input rate when the encoder takes it, else the nearest rate above (Opus: 8k..48k).
int choose_rate(const AVCodec* encoder, int rate) {
  if (!encoder->supported_samplerates) return rate;
  int best_above = 0, highest = 0;
  for (const int* r = encoder->supported_samplerates; *r; ++r) {
    if (*r == rate) return rate;
    if (*r > rate && (best_above == 0 || *r < best_above)) best_above = *r;
    highest = std::max(highest, *r);
  }
  return best_above ? best_above : highest;
}

// One output file being written; closes (and on failure removes) it whatever happens.
class AudioWriter {
 public:
  AudioWriter(const fs::path& path, int channels, int sample_rate, int bitrate_kbps);
  ~AudioWriter();
  void write(const float* interleaved, size_t frames);
  void finish();

 private:
  void open_encoder(const FormatChoice& choice, int channels, int sample_rate, int bitrate_kbps);
  void open_resampler(int channels, int sample_rate);
  void convert(const uint8_t* in, int count);
  void drain_fifo(bool final);
  void encode(AVFrame* frame);
  void check(int err, const char* what) {
    if (err < 0) fail(path_, std::string(what) + " (" + error_text(err) + ")");
  }

  fs::path path_;
  AVFormatContext* output_ = nullptr;
  CodecPtr codec_;
  AVStream* stream_ = nullptr;
  ResamplerPtr resampler_;
  FifoPtr fifo_;
  PacketPtr packet_{av_packet_alloc()};
  int frame_size_ = 0;
  int64_t next_pts_ = 0;
  bool finished_ = false;
};

AudioWriter::AudioWriter(const fs::path& path, int channels, int sample_rate, int bitrate_kbps)
    : path_(path) {
  silence_library_logging();
  if (channels <= 0 || sample_rate <= 0)
    fail(path, "invalid audio shape (" + std::to_string(channels) + " channels, " +
                   std::to_string(sample_rate) + " Hz)");
  const FormatChoice choice = choose_format(path);
  check(avformat_alloc_output_context2(&output_, nullptr, choice.muxer, path.c_str()),
        "cannot create the output");
  open_encoder(choice, channels, sample_rate, bitrate_kbps);
  open_resampler(channels, sample_rate);
  if (!(output_->oformat->flags & AVFMT_NOFILE))
    check(avio_open(&output_->pb, path.c_str(), AVIO_FLAG_WRITE), "cannot create the file");
  check(avformat_write_header(output_, nullptr), "cannot write the header");
}

void AudioWriter::open_encoder(const FormatChoice& choice, int channels, int sample_rate,
                               int bitrate_kbps) {
  const AVCodec* encoder = avcodec_find_encoder_by_name(choice.encoder);
  if (!encoder) fail(path_, std::string("encoder ") + choice.encoder + " is not available");
  codec_.reset(avcodec_alloc_context3(encoder));
  codec_->sample_fmt = encoder->sample_fmts ? encoder->sample_fmts[0] : AV_SAMPLE_FMT_S16;
  codec_->sample_rate = choose_rate(encoder, sample_rate);
  codec_->time_base = AVRational{1, codec_->sample_rate};
  av_channel_layout_default(&codec_->ch_layout, channels);
  codec_->compression_level = choice.compression_level;
  if (choice.lossy) codec_->bit_rate = int64_t{bitrate_kbps} * 1000 * std::min(channels, 2);
  if (output_->oformat->flags & AVFMT_GLOBALHEADER) codec_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (int err = avcodec_open2(codec_.get(), encoder, nullptr); err < 0)
    fail(path_, "cannot encode " + std::to_string(channels) + " channels at " +
                    std::to_string(sample_rate) + " Hz with " + choice.encoder + " (" +
                    error_text(err) + ")");
  stream_ = avformat_new_stream(output_, nullptr);
  if (!stream_) fail(path_, "cannot add an audio stream");
  stream_->time_base = codec_->time_base;
  check(avcodec_parameters_from_context(stream_->codecpar, codec_.get()), "cannot set up stream");
  const bool any_size = encoder->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE;
  frame_size_ = (any_size || codec_->frame_size <= 0) ? kVariableFrameSize : codec_->frame_size;
}

void AudioWriter::open_resampler(int channels, int sample_rate) {
  AVChannelLayout in_layout{};
  av_channel_layout_default(&in_layout, channels);
  SwrContext* raw = nullptr;
  int err = swr_alloc_set_opts2(&raw, &codec_->ch_layout, codec_->sample_fmt, codec_->sample_rate,
                                &in_layout, AV_SAMPLE_FMT_FLT, sample_rate, 0, nullptr);
  resampler_.reset(raw);
  av_channel_layout_uninit(&in_layout);
  check(err, "cannot set up sample conversion");
  check(swr_init(raw), "cannot set up sample conversion");
  fifo_.reset(av_audio_fifo_alloc(codec_->sample_fmt, channels, frame_size_));
  if (!fifo_) fail(path_, "out of memory");
}

AudioWriter::~AudioWriter() {
  if (output_) {
    if (output_->pb) avio_closep(&output_->pb);
    avformat_free_context(output_);
  }
  if (!finished_) {
    std::error_code ignored;
    fs::remove(path_, ignored);  // never leave a half-written file behind
  }
}

void AudioWriter::write(const float* interleaved, size_t frames) {
  constexpr size_t kBlock = 16384;
  const int channels = codec_->ch_layout.nb_channels;
  for (size_t done = 0; done < frames;) {
    const int n = static_cast<int>(std::min(kBlock, frames - done));
    convert(reinterpret_cast<const uint8_t*>(interleaved + done * channels), n);
    done += n;
    drain_fifo(false);
  }
}

// Resamples and converts `count` frames into the fifo; a null input flushes the resampler.
void AudioWriter::convert(const uint8_t* in, int count) {
  const int room = swr_get_out_samples(resampler_.get(), count);
  if (room <= 0) return;
  uint8_t** converted = nullptr;
  check(av_samples_alloc_array_and_samples(&converted, nullptr, codec_->ch_layout.nb_channels, room,
                                           codec_->sample_fmt, 0),
        "out of memory");
  const int got = swr_convert(resampler_.get(), converted, room, in ? &in : nullptr, count);
  if (got > 0) av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(converted), got);
  av_freep(&converted[0]);
  av_freep(&converted);
  check(got, "cannot convert samples");
}

// Hands whole frames to the encoder; at the end also the last partial one (padded with
// silence for encoders that need full frames).
void AudioWriter::drain_fifo(bool final) {
  const bool small_last = codec_->codec->capabilities &
                          (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
  while (av_audio_fifo_size(fifo_.get()) >= frame_size_ ||
         (final && av_audio_fifo_size(fifo_.get()) > 0)) {
    const int available = std::min(av_audio_fifo_size(fifo_.get()), frame_size_);
    FramePtr frame(av_frame_alloc());
    frame->nb_samples = small_last ? available : frame_size_;
    frame->format = codec_->sample_fmt;
    frame->sample_rate = codec_->sample_rate;
    check(av_channel_layout_copy(&frame->ch_layout, &codec_->ch_layout), "out of memory");
    check(av_frame_get_buffer(frame.get(), 0), "out of memory");
    av_samples_set_silence(frame->extended_data, 0, frame->nb_samples,
                           codec_->ch_layout.nb_channels, codec_->sample_fmt);
    av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame->extended_data), available);
    frame->pts = next_pts_;
    next_pts_ += frame->nb_samples;
    encode(frame.get());
  }
}

void AudioWriter::encode(AVFrame* frame) {
  check(avcodec_send_frame(codec_.get(), frame), "cannot encode");
  while (true) {
    const int err = avcodec_receive_packet(codec_.get(), packet_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    check(err, "cannot encode");
    av_packet_rescale_ts(packet_.get(), codec_->time_base, stream_->time_base);
    packet_->stream_index = stream_->index;
    check(av_interleaved_write_frame(output_, packet_.get()), "cannot write");
  }
}

void AudioWriter::finish() {
  convert(nullptr, 0);  // the resampler's tail
  drain_fifo(true);
  encode(nullptr);
  check(av_write_trailer(output_), "cannot finish the file");
  if (output_->pb) check(avio_closep(&output_->pb), "cannot close the file");
  finished_ = true;
}

}  // namespace

void write_audio(const fs::path& path, const float* interleaved, size_t frames, int channels,
                 int sample_rate, int bitrate_kbps) {
  AudioWriter writer(path, channels, sample_rate, bitrate_kbps);
  writer.write(interleaved, frames);
  writer.finish();
}

}  // namespace sax

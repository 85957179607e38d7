#include "exports/mp4_writer.h"

#include <turbojpeg.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace iotstream::exports {
namespace {

// The video's clock: milliseconds, so that frame times need no rounding.
constexpr AVRational kMillis{1, 1000};

std::string AvError(int err) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, text, sizeof text);
  return text;
}

struct FormatDeleter {
  void operator()(AVFormatContext* f) const {
    if (f->pb != nullptr) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};
struct CodecDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};

}  // namespace

struct Mp4Writer::Impl {
  std::string path;
  Mp4Options options;
  std::unique_ptr<void, TjDeleter> tj;
  std::unique_ptr<AVFormatContext, FormatDeleter> format;
  std::unique_ptr<AVCodecContext, CodecDeleter> codec;
  std::unique_ptr<SwsContext, SwsDeleter> sws;  // RGB of the last frame's size -> the video's yuv420p
  std::unique_ptr<AVPacket, PacketDeleter> packet;
  AVStream* stream = nullptr;                   // owned by `format`
  std::unique_ptr<AVFrame, FrameDeleter> pending;  // the newest frame: sent once the next one says how long it lasts
  std::map<int64_t, int64_t> durations;         // pts -> duration (ms) of the frames sent, until their packet is out
  std::vector<unsigned char> rgb;
  int64_t origin_ms = 0;     // the first frame's time: pts 0
  int64_t last_pts = -1;
  int64_t frames = 0;
  int width = 0;
  int height = 0;
  bool header_written = false;
  bool failed = false;
  bool finished = false;

  ~Impl() {
    if (finished) return;
    // Unfinished: no index was written, the file is of no use.
    format.reset();
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }

  // Opens the encoder and the file for frames of `w` x `h` (the video is that, rounded down to even).
  Status Open(int w, int h) {
    width = std::max(2, w & ~1);
    height = std::max(2, h & ~1);
    const AVCodec* encoder = avcodec_find_encoder_by_name("libx264");
    if (encoder == nullptr) encoder = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (encoder == nullptr) return Status::Unavailable("this libavcodec has no H.264 encoder");
    AVFormatContext* raw_format = nullptr;
    int err = avformat_alloc_output_context2(&raw_format, nullptr, "mp4", path.c_str());
    if (err < 0 || raw_format == nullptr) return Status::Internal("mp4 muxer: " + AvError(err));
    format.reset(raw_format);
    stream = avformat_new_stream(format.get(), nullptr);
    codec.reset(avcodec_alloc_context3(encoder));
    packet.reset(av_packet_alloc());
    if (stream == nullptr || !codec || !packet) return Status::Internal("out of memory opening the encoder");
    AVCodecContext* c = codec.get();
    c->width = width;
    c->height = height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;  // what every browser's H.264 decoder takes
    c->time_base = kMillis;
    c->max_b_frames = 0;              // packets leave in frame order, each with its frame's duration
    c->gop_size = 250;
    c->thread_count = options.threads;
    if (format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* codec_options = nullptr;
    av_dict_set(&codec_options, "preset", options.preset.c_str(), 0);
    av_dict_set_int(&codec_options, "crf", options.crf, 0);
    err = avcodec_open2(c, encoder, &codec_options);
    av_dict_free(&codec_options);
    if (err < 0) return Status::Internal("H.264 encoder: " + AvError(err));
    err = avcodec_parameters_from_context(stream->codecpar, c);
    if (err < 0) return Status::Internal("stream parameters: " + AvError(err));
    stream->time_base = kMillis;
    err = avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (err < 0) return Status::IOError("cannot create " + path + ": " + AvError(err));
    AVDictionary* mux_options = nullptr;
    av_dict_set(&mux_options, "movflags", "+faststart", 0);  // the index first: a browser plays while it loads
    err = avformat_write_header(format.get(), &mux_options);
    av_dict_free(&mux_options);
    if (err < 0) return Status::IOError("cannot write " + path + ": " + AvError(err));
    header_written = true;
    return Status::Ok();
  }

  // Decodes `jpeg` into a new yuv420p frame of the video's size.
  Result<std::unique_ptr<AVFrame, FrameDeleter>> Decode(std::string_view jpeg) {
    const auto* data = reinterpret_cast<const unsigned char*>(jpeg.data());
    const auto size = static_cast<unsigned long>(jpeg.size());
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj.get(), data, size, &w, &h, &subsamp, &colorspace) != 0 || w <= 0 || h <= 0) {
      return Status::InvalidArgument(std::string("not a decodable JPEG: ") + tjGetErrorStr2(tj.get()));
    }
    if (!header_written) {
      if (Status st = Open(w, h); !st.ok()) {
        failed = true;
        return st;
      }
    }
    rgb.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
    if (tjDecompress2(tj.get(), data, size, rgb.data(), w, 0, h, TJPF_RGB, TJFLAG_FASTDCT) != 0 &&
        tjGetErrorCode(tj.get()) == TJERR_FATAL) {
      return Status::InvalidArgument(std::string("JPEG decode failed: ") + tjGetErrorStr2(tj.get()));
    }
    sws.reset(sws_getCachedContext(sws.release(), w, h, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                                   SWS_BILINEAR, nullptr, nullptr, nullptr));
    std::unique_ptr<AVFrame, FrameDeleter> frame(av_frame_alloc());
    if (!sws || !frame) return Fail("out of memory converting a frame");
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    if (int err = av_frame_get_buffer(frame.get(), 0); err < 0) return Fail("frame buffer: " + AvError(err));
    const uint8_t* src[1] = {rgb.data()};
    const int src_stride[1] = {w * 3};
    sws_scale(sws.get(), src, src_stride, 0, h, frame->data, frame->linesize);
    return frame;
  }

  Status Fail(const std::string& message) {
    failed = true;
    return Status::Internal(message);
  }

  // Sends `frame` (null: the end) to the encoder and writes every packet it has ready.
  Status Encode(AVFrame* frame) {
    int err = avcodec_send_frame(codec.get(), frame);
    if (err < 0) return Fail("H.264 encoder: " + AvError(err));
    while (true) {
      err = avcodec_receive_packet(codec.get(), packet.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
      if (err < 0) return Fail("H.264 encoder: " + AvError(err));
      if (auto d = durations.find(packet->pts); d != durations.end()) {
        packet->duration = d->second;
        durations.erase(d);
      }
      av_packet_rescale_ts(packet.get(), codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      err = av_interleaved_write_frame(format.get(), packet.get());  // takes the packet's data
      if (err < 0) {
        failed = true;
        return Status::IOError("cannot write " + path + ": " + AvError(err));
      }
    }
  }

  // Sends the pending frame, which lasts until `until_pts`.
  Status SendPending(int64_t until_pts) {
    durations[pending->pts] = std::max<int64_t>(1, until_pts - pending->pts);
    Status st = Encode(pending.get());
    pending.reset();
    return st;
  }
};

Mp4Writer::Mp4Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mp4Writer::~Mp4Writer() = default;

Result<std::unique_ptr<Mp4Writer>> Mp4Writer::Create(const std::string& path, const Mp4Options& options) {
  // libx264's banner and statistics (info level) would fill the server's log with every export.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_WARNING); });
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->tj.reset(tjInitDecompress());
  if (!impl->tj) return Status::Internal("cannot start the JPEG decoder");
  // The file is created with the first frame, once the video's size is known.
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return std::unique_ptr<Mp4Writer>(new Mp4Writer(std::move(impl)));
}

Status Mp4Writer::Add(std::string_view jpeg, int64_t time_ms) {
  Impl& m = *impl_;
  if (m.failed || m.finished) return Status::Internal("the video " + m.path + " is closed");
  auto frame = m.Decode(jpeg);
  if (!frame.ok()) return frame.status();
  if (m.frames == 0) m.origin_ms = time_ms;
  const int64_t pts = std::max(time_ms - m.origin_ms, m.last_pts + 1);
  frame.value()->pts = pts;
  if (m.pending) {
    if (Status st = m.SendPending(pts); !st.ok()) return st;
  }
  m.pending = std::move(frame).value();
  m.last_pts = pts;
  ++m.frames;
  return Status::Ok();
}

Status Mp4Writer::Finish(int64_t end_ms) {
  Impl& m = *impl_;
  if (m.failed || m.finished) return Status::Internal("the video " + m.path + " is closed");
  if (m.frames == 0) return Status::InvalidArgument("no frame to make a video of");
  if (Status st = m.SendPending(end_ms - m.origin_ms); !st.ok()) return st;
  if (Status st = m.Encode(nullptr); !st.ok()) return st;
  if (int err = av_write_trailer(m.format.get()); err < 0) {
    m.failed = true;
    return Status::IOError("cannot finish " + m.path + ": " + AvError(err));
  }
  if (int err = avio_closep(&m.format->pb); err < 0) {
    m.failed = true;
    return Status::IOError("cannot close " + m.path + ": " + AvError(err));
  }
  m.finished = true;
  return Status::Ok();
}

int64_t Mp4Writer::frames() const { return impl_->frames; }
int Mp4Writer::width() const { return impl_->width; }
int Mp4Writer::height() const { return impl_->height; }

}  // namespace iotstream::exports

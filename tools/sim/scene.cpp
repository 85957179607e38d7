#include "scene.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

namespace iotstream::sim {
namespace {

struct Rgb {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3
};

struct TjDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

bool Decode(const std::string& jpeg, Rgb* out, std::string* error) {
  TjHandle tj(tjInitDecompress());
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(jpeg.data());
  if (!tj || tjDecompressHeader3(tj.get(), data, jpeg.size(), &width, &height, &subsampling, &colorspace) != 0) {
    *error = "the face photo is not a JPEG";
    return false;
  }
  out->width = width;
  out->height = height;
  out->pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  if (tjDecompress2(tj.get(), data, jpeg.size(), out->pixels.data(), width, 0, height, TJPF_RGB, 0) != 0) {
    *error = std::string("cannot decode the face photo: ") + tjGetErrorStr2(tj.get());
    return false;
  }
  return true;
}

// Area-average downscale (or nearest upscale) to width x height: cheap and good enough for a test scene.
Rgb Resize(const Rgb& in, int width, int height) {
  Rgb out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (int y = 0; y < height; ++y) {
    const int y0 = y * in.height / height;
    const int y1 = std::max(y0 + 1, (y + 1) * in.height / height);
    for (int x = 0; x < width; ++x) {
      const int x0 = x * in.width / width;
      const int x1 = std::max(x0 + 1, (x + 1) * in.width / width);
      for (int c = 0; c < 3; ++c) {
        unsigned sum = 0;
        for (int sy = y0; sy < y1; ++sy) {
          for (int sx = x0; sx < x1; ++sx) sum += in.pixels[(static_cast<size_t>(sy) * in.width + sx) * 3 + c];
        }
        out.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(sum / static_cast<unsigned>((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return out;
}

// A wall-and-floor gradient with a fixed grain, so frames compress to camera-like sizes rather than a few KB.
Rgb Background(int width, int height) {
  Rgb bg;
  bg.width = width;
  bg.height = height;
  bg.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  uint32_t seed = 12345;
  const int floor_y = height * 3 / 4;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      seed = seed * 1664525u + 1013904223u;
      const int grain = static_cast<int>((seed >> 24) % 24) - 12;
      int r;
      int g;
      int b;
      if (y < floor_y) {
        r = 150 + 60 * y / floor_y;
        g = 170 + 50 * y / floor_y;
        b = 200 - 30 * y / floor_y;
      } else {
        r = 110 - 30 * (y - floor_y) / (height - floor_y);
        g = 90 - 20 * (y - floor_y) / (height - floor_y);
        b = 70;
      }
      uint8_t* p = &bg.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(std::clamp(r + grain, 0, 255));
      p[1] = static_cast<uint8_t>(std::clamp(g + grain, 0, 255));
      p[2] = static_cast<uint8_t>(std::clamp(b + grain, 0, 255));
    }
  }
  return bg;
}

// The walker's left edge at time t of the cycle; none while it is out of the picture.
std::optional<int> WalkerX(const SceneOptions& o, double t, int frame_width, int walker_width) {
  const int middle = (frame_width - walker_width) / 2;
  const auto lerp = [](double a, double b, double f) { return static_cast<int>(std::lround(a + (b - a) * f)); };
  if (t < o.enter_s || t >= o.gone_s) return std::nullopt;
  if (t < o.stand_s) return lerp(-walker_width, middle, (t - o.enter_s) / (o.stand_s - o.enter_s));
  if (t < o.leave_s) return middle;
  return lerp(middle, frame_width, (t - o.leave_s) / (o.gone_s - o.leave_s));
}

// The photo scaled (aspect kept) to options.face_height high, or less so that it is at most 2/3 of the frame wide.
Rgb ScaleWalker(const Rgb& photo, const SceneOptions& options) {
  int face_h = std::min(options.face_height, options.height);
  int face_w = photo.width * face_h / photo.height;
  if (face_w > options.width * 2 / 3) {
    face_w = options.width * 2 / 3;
    face_h = photo.height * face_w / photo.width;
  }
  return Resize(photo, std::max(face_w, 1), std::max(face_h, 1));
}

// The walker's top edge: standing on the floor, a little in front of where the wall meets it.
int WalkerY(const SceneOptions& options, int walker_height) {
  return options.height * 3 / 4 - walker_height + options.height / 16;
}

// Copies `walker` onto `canvas` with its top-left corner at (x, y); what falls outside the canvas is cut off.
void Paste(const Rgb& walker, int x, int y, Rgb* canvas) {
  const int from = std::max(0, -x);
  const int to = std::min(walker.width, canvas->width - x);
  if (from >= to) return;
  for (int row = 0; row < walker.height; ++row) {
    const int cy = y + row;
    if (cy < 0 || cy >= canvas->height) continue;
    std::copy_n(&walker.pixels[(static_cast<size_t>(row) * walker.width + from) * 3],
                static_cast<size_t>(to - from) * 3,
                &canvas->pixels[(static_cast<size_t>(cy) * canvas->width + x + from) * 3]);
  }
}

// Sensor noise: adds a value in [-amplitude, amplitude] drawn from `seed` to every channel of every pixel.
void AddNoise(uint32_t seed, int amplitude, Rgb* canvas) {
  const auto span = static_cast<uint32_t>(2 * amplitude + 1);
  for (uint8_t& channel : canvas->pixels) {
    seed = seed * 1664525u + 1013904223u;
    channel = static_cast<uint8_t>(std::clamp(channel + static_cast<int>((seed >> 24) % span) - amplitude, 0, 255));
  }
}

// Encodes RGB frames into a growing JpegSet, all at one quality.
class Encoder {
 public:
  explicit Encoder(int quality) : tj_(tjInitCompress()), quality_(quality) {}

  // Appends `frame`'s JPEG. Returns false and sets `*error` when TurboJPEG cannot start or encode it.
  bool Add(const Rgb& frame, std::string* error) {
    if (!tj_) {
      *error = "TurboJPEG cannot start";
      return false;
    }
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    if (tjCompress2(tj_.get(), frame.pixels.data(), frame.width, 0, frame.height, TJPF_RGB, &jpeg, &size, TJSAMP_420,
                    quality_, 0) != 0) {
      *error = std::string("cannot encode a scene frame: ") + tjGetErrorStr2(tj_.get());
      tjFree(jpeg);
      return false;
    }
    frames_->emplace_back(reinterpret_cast<const char*>(jpeg), size);
    tjFree(jpeg);
    return true;
  }

  firmware::JpegSet frames() const { return frames_; }

 private:
  TjHandle tj_;
  int quality_;
  std::shared_ptr<std::vector<std::string>> frames_ = std::make_shared<std::vector<std::string>>();
};

firmware::JpegSet NoFrames() { return std::make_shared<const std::vector<std::string>>(); }

}  // namespace

firmware::JpegSet MakeScene(const std::string& face_jpeg, const SceneOptions& options, std::string* error) {
  Rgb face_photo;
  if (!Decode(face_jpeg, &face_photo, error)) return NoFrames();
  const Rgb face = ScaleWalker(face_photo, options);
  const Rgb background = Background(options.width, options.height);
  const int face_y = WalkerY(options, face.height);
  Encoder encoder(options.quality);
  const int count = std::max(1, static_cast<int>(std::lround(options.cycle_s * options.fps)));
  Rgb canvas = background;
  for (int i = 0; i < count; ++i) {
    canvas.pixels = background.pixels;
    if (const std::optional<int> walker = WalkerX(options, i / options.fps, options.width, face.width)) {
      Paste(face, *walker, face_y, &canvas);
    }
    if (!encoder.Add(canvas, error)) return NoFrames();
  }
  return encoder.frames();
}

firmware::JpegSet MakeBackgrounds(const SceneOptions& options, int count, int noise, std::string* error) {
  const Rgb background = Background(options.width, options.height);
  Encoder encoder(options.quality);
  Rgb canvas = background;
  for (int i = 0; i < count; ++i) {
    canvas.pixels = background.pixels;
    AddNoise(static_cast<uint32_t>(i) + 1, noise, &canvas);
    if (!encoder.Add(canvas, error)) return NoFrames();
  }
  return encoder.frames();
}

firmware::JpegSet MakeWalkPast(const std::string& photo_jpeg, const SceneOptions& options, int count, int noise,
                               std::string* error) {
  Rgb photo;
  if (!Decode(photo_jpeg, &photo, error)) return NoFrames();
  const Rgb walker = ScaleWalker(photo, options);
  const Rgb background = Background(options.width, options.height);
  const int y = std::clamp(WalkerY(options, walker.height), 0, options.height - walker.height);
  const int last_x = options.width - walker.width;
  Encoder encoder(options.quality);
  Rgb canvas = background;
  for (int i = 0; i < count; ++i) {
    canvas.pixels = background.pixels;
    const int x =
        count == 1 ? last_x / 2 : static_cast<int>(std::lround(static_cast<double>(last_x) * i / (count - 1)));
    Paste(walker, x, y, &canvas);
    AddNoise(static_cast<uint32_t>(i) + 1, noise, &canvas);
    if (!encoder.Add(canvas, error)) return NoFrames();
  }
  return encoder.frames();
}

ClockedCamera::ClockedCamera(firmware::JpegSet frames, firmware::Clock& clock, double fps, size_t offset)
    : frames_(std::move(frames)), clock_(clock), fps_(fps), offset_(offset), start_us_(clock.MonotonicUs()) {}

bool ClockedCamera::Grab(firmware::FrameView* frame) {
  const auto elapsed_frames = static_cast<size_t>(static_cast<double>(clock_.MonotonicUs() - start_us_) * fps_ / 1e6);
  const std::string& bytes = (*frames_)[(elapsed_frames + offset_) % frames_->size()];
  frame->data = reinterpret_cast<const uint8_t*>(bytes.data());
  frame->size = bytes.size();
  return true;
}

}  // namespace iotstream::sim

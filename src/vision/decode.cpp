#include "vision/decode.h"

#include <cstring>
#include <memory>
#include <string>

#include <png.h>
#include <turbojpeg.h>

namespace iotstream::vision {
namespace {

constexpr long kMaxPixels = 64L * 1024 * 1024;  // refuse absurd dimensions before allocating

Status DecodeJpeg(const uint8_t* data, size_t size, int target_width, DecodedImage* out) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) return Status::Internal("tjInitDecompress failed");
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), data, static_cast<unsigned long>(size), &w, &h, &subsamp, &colorspace) != 0) {
    return Status::InvalidArgument(std::string("not a decodable JPEG: ") + tjGetErrorStr2(tj.get()));
  }
  if (w <= 0 || h <= 0 || static_cast<long>(w) * h > kMaxPixels) {
    return Status::InvalidArgument("JPEG dimensions out of range: " + std::to_string(w) + "x" + std::to_string(h));
  }
  // Smallest of 1/2, 1/4, 1/8 that keeps the width >= target_width. Only these have fast (SIMD / reduced) IDCTs in
  // libjpeg-turbo; the other n/8 factors decode slower than full size.
  tjscalingfactor best{1, 1};
  if (target_width > 0) {
    for (int denom : {2, 4, 8}) {
      const tjscalingfactor f{1, denom};
      if (TJSCALED(w, f) < target_width) break;
      best = f;
    }
  }
  const int sw = TJSCALED(w, best), sh = TJSCALED(h, best);
  out->rgb.set_size(sh, sw);
  static_assert(sizeof(dlib::rgb_pixel) == 3, "rgb_pixel must be packed R,G,B");
  if (tjDecompress2(tj.get(), data, static_cast<unsigned long>(size), reinterpret_cast<unsigned char*>(&out->rgb[0][0]),
                    sw, sw * 3, sh, TJPF_RGB, 0) != 0 &&
      tjGetErrorCode(tj.get()) == TJERR_FATAL) {
    return Status::InvalidArgument(std::string("JPEG decode failed: ") + tjGetErrorStr2(tj.get()));
  }
  out->original_width = w;
  out->original_height = h;
  out->scale = static_cast<double>(sw) / w;
  return Status::Ok();
}

Status DecodePng(const uint8_t* data, size_t size, DecodedImage* out) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    return Status::InvalidArgument(std::string("not a decodable PNG: ") + image.message);
  }
  if (image.width == 0 || image.height == 0 || static_cast<long>(image.width) * image.height > kMaxPixels) {
    png_image_free(&image);
    return Status::InvalidArgument("PNG dimensions out of range");
  }
  image.format = PNG_FORMAT_RGB;  // libpng converts grey/palette/16-bit and composites alpha
  out->rgb.set_size(image.height, image.width);
  const png_color black{0, 0, 0};
  if (!png_image_finish_read(&image, &black, &out->rgb[0][0], static_cast<png_int_32>(image.width * 3), nullptr)) {
    const std::string msg = image.message;
    png_image_free(&image);
    return Status::InvalidArgument("PNG decode failed: " + msg);
  }
  out->original_width = static_cast<int>(image.width);
  out->original_height = static_cast<int>(image.height);
  out->scale = 1.0;
  return Status::Ok();
}

}  // namespace

Status DecodeImage(const uint8_t* data, size_t size, int target_width, DecodedImage* out) {
  if (data == nullptr || size < 8) return Status::InvalidArgument("not an image: too short");
  if (data[0] == 0xFF && data[1] == 0xD8) return DecodeJpeg(data, size, target_width, out);
  static const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (std::memcmp(data, kPngSig, 8) == 0) return DecodePng(data, size, out);
  return Status::InvalidArgument("not an image: neither JPEG nor PNG");
}

void ToGray(const dlib::array2d<dlib::rgb_pixel>& rgb, dlib::array2d<unsigned char>* gray) {
  gray->set_size(rgb.nr(), rgb.nc());
  const long n = rgb.nr() * rgb.nc();
  if (n == 0) return;
  const dlib::rgb_pixel* src = &rgb[0][0];
  unsigned char* dst = &(*gray)[0][0];
  for (long i = 0; i < n; ++i) {
    dst[i] = static_cast<unsigned char>((static_cast<unsigned>(src[i].red) + src[i].green + src[i].blue) / 3);
  }
}

}  // namespace iotstream::vision

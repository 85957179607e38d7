#include <algorithm>
#include <cmath>
#include <chrono>
#include <exception>
#include <fstream>
#include <limits>
#include <string>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include "vision/decode.h"
#include "vision/face_net.h"
#include "vision/fhog_scanner.h"
#include "vision/landmarks.h"
#include "vision/vision.h"
#include "vision/weights.h"

namespace iotstream::vision {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

class FaceEngineImpl final : public FaceEngine {
 public:
  FaceEngineImpl(EngineOptions options, FhogScanner scanner, LandmarkPredictor predictor,
                 std::unique_ptr<FaceNet> net)
      : options_(std::move(options)),
        scanner_(std::move(scanner)),
        predictor_(std::move(predictor)),
        net_(std::move(net)) {}

  std::unique_ptr<FaceEngine> Clone() const override {
    return std::make_unique<FaceEngineImpl>(options_, scanner_, predictor_, net_->Clone());
  }

  const EngineOptions& options() const override { return options_; }

  Result<std::vector<Face>> DetectAndAlign(const uint8_t* data, size_t size, StageTiming* timing) override {
    return Run(data, size, nullptr, /*closer=*/false, timing);
  }

  Result<std::vector<Face>> DetectAndAlignIn(const uint8_t* data, size_t size, const Box& region, bool closer,
                                             StageTiming* timing) override {
    return Run(data, size, &region, closer, timing);
  }

 private:
  // The detection window's rectangles in the detection image: dlib's pyramid, then our upsampling undone.
  struct Scan {
    std::vector<dlib::rect_detection> dets;
    double resize_scale = 1.0;  // detection image / decoded image
  };

  // HOG over the whole detection image, or over `region` of it (original pixels) doubled `upsample` times.
  void Detect(const dlib::array2d<unsigned char>& det_image, const dlib::rectangle& crop, int upsample, Scan* scan) {
    const bool whole = crop == dlib::get_rect(det_image);
    const auto image = dlib::sub_image(det_image, crop);
    std::vector<dlib::rect_detection> dets;
    if (upsample > 0) {
      dlib::pyramid_up(image, up_, dlib::pyramid_down<2>());
      for (int i = 1; i < upsample; ++i) {
        dlib::array2d<unsigned char> next;
        dlib::pyramid_up(up_, next, dlib::pyramid_down<2>());
        dlib::swap(up_, next);
      }
      scanner_.Detect(up_, options_.adjust_threshold, &dets);
    } else if (whole) {
      scanner_.Detect(det_image, options_.adjust_threshold, &dets);
    } else {
      dlib::assign_image(crop_, image);
      scanner_.Detect(crop_, options_.adjust_threshold, &dets);
    }
    for (auto& d : dets) {
      dlib::drectangle r = d.rect;
      for (int i = 0; i < upsample; ++i) r = dlib::pyramid_down<2>().rect_down(r);
      d.rect = dlib::translate_rect(r, dlib::dpoint(crop.tl_corner()));
    }
    scan->dets = std::move(dets);
  }

  Result<std::vector<Face>> Run(const uint8_t* data, size_t size, const Box* region, bool closer, StageTiming* timing) {
    StageTiming local;
    StageTiming& t = timing ? *timing : local;
    std::vector<Face> faces;
    try {
      auto t0 = Clock::now();
      if (Status st = DecodeImage(data, size, options_.detection_width, &image_); !st.ok()) return st;
      ToGray(image_.rgb, &gray_);  // HOG and landmarks on grey: ~20 % cheaper than on RGB
      t.decode_ms = MsSince(t0);

      // Detection runs on grey scaled to at most detection_width (decoded pixels * resize_scale), then upsampled.
      t0 = Clock::now();
      const dlib::array2d<unsigned char>* det_image = &gray_;
      Scan scan;
      if (options_.detection_width > 0 && gray_.nc() > options_.detection_width) {
        scan.resize_scale = static_cast<double>(options_.detection_width) / gray_.nc();
        small_.set_size(std::max(1L, std::lround(gray_.nr() * scan.resize_scale)), options_.detection_width);
        dlib::resize_image(gray_, small_);
        det_image = &small_;
      }
      const dlib::rectangle whole = dlib::get_rect(*det_image);
      dlib::rectangle area = whole;
      int upsample = options_.upsample;
      if (region != nullptr) {
        // The region in detection pixels, grown by half the detector's 80-px window so that a face at its edge is
        // whole; a region of at most a quarter of the picture is doubled first, for about the cost of the whole
        // picture at 1x, so faces down to ~40 px are found there.
        const double to_det = image_.scale * scan.resize_scale;
        const long margin = 40;
        const double region_area = region->w * to_det * region->h * to_det;
        area = whole.intersect(dlib::rectangle(std::lround(region->x * to_det) - margin,
                                               std::lround(region->y * to_det) - margin,
                                               std::lround((region->x + region->w) * to_det) + margin,
                                               std::lround((region->y + region->h) * to_det) + margin));
        if (area.width() < 80 || area.height() < 80) area = whole;
        if (region_area * 4 <= static_cast<double>(whole.area())) upsample = std::max(upsample, 1);
        // Each doubling quadruples the pixels HOG scans.
        const double cost = static_cast<double>(area.area()) * std::pow(4.0, upsample + 1);
        if (closer && cost <= 2.5 * static_cast<double>(whole.area())) ++upsample;
      }
      Detect(*det_image, area, upsample, &scan);
      std::vector<dlib::rect_detection>& dets = scan.dets;
      std::sort(dets.begin(), dets.end(),
                [](const auto& a, const auto& b) { return a.detection_confidence > b.detection_confidence; });
      if (dets.size() > static_cast<size_t>(std::max(0, options_.max_faces))) {
        dets.resize(static_cast<size_t>(std::max(0, options_.max_faces)));
      }
      const double resize_scale = scan.resize_scale;
      t.detect_ms = MsSince(t0);

      t0 = Clock::now();
      const dlib::rectangle bounds = dlib::get_rect(image_.rgb);
      for (const auto& det : dets) {
        // Back through the resize (Detect undid the upsampling the way dlib's own tools do, rect_down).
        dlib::drectangle r = det.rect;
        if (resize_scale != 1.0) {
          r = dlib::drectangle(r.left() / resize_scale, r.top() / resize_scale, (r.right() + 1) / resize_scale - 1,
                               (r.bottom() + 1) / resize_scale - 1);
        }
        const dlib::full_object_detection shape = predictor_(gray_, dlib::rectangle(r));
        const dlib::chip_details details = dlib::get_face_chip_details(shape, kChipSize, 0.25);
        // extract_image_chip builds an anti-aliasing pyramid of its whole input: give it only the face's
        // neighbourhood (the rotated chip rectangle's bounding circle plus the pyramid filters' reach).
        const dlib::dpoint c = dlib::center(details.rect);
        const double radius = 0.5 * std::hypot(details.rect.width(), details.rect.height());
        const double margin = 4.0 + 8.0 * details.rect.width() / kChipSize;
        const dlib::rectangle crop =
            bounds.intersect(dlib::rectangle(std::lround(c.x() - radius - margin), std::lround(c.y() - radius - margin),
                                             std::lround(c.x() + radius + margin), std::lround(c.y() + radius + margin)));
        dlib::matrix<dlib::rgb_pixel> chip;
        if (crop.is_empty()) {
          chip.set_size(kChipSize, kChipSize);
          dlib::assign_all_pixels(chip, dlib::rgb_pixel(0, 0, 0));
        } else {
          const dlib::chip_details in_crop(dlib::translate_rect(details.rect, -dlib::dpoint(crop.tl_corner())),
                                         dlib::chip_dims(details.rows, details.cols), details.angle);
          dlib::extract_image_chip(dlib::sub_image(image_.rgb, crop), in_crop, chip);
        }
        Face f;
        const double to_original = 1.0 / image_.scale;
        const long x0 = std::max(0L, std::lround(r.left() * to_original));
        const long y0 = std::max(0L, std::lround(r.top() * to_original));
        const long x1 = std::min<long>(image_.original_width, std::lround((r.right() + 1) * to_original));
        const long y1 = std::min<long>(image_.original_height, std::lround((r.bottom() + 1) * to_original));
        f.box = {static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(std::max(0L, x1 - x0)),
                 static_cast<int>(std::max(0L, y1 - y0))};
        f.detection_score = det.detection_confidence;
        f.chip.resize(kChipSize * kChipSize * 3);
        uint8_t* out = f.chip.data();
        for (long y = 0; y < kChipSize; ++y) {
          for (long x = 0; x < kChipSize; ++x) {
            const dlib::rgb_pixel& p = chip(y, x);
            *out++ = p.red;
            *out++ = p.green;
            *out++ = p.blue;
          }
        }
        faces.push_back(std::move(f));
      }
      t.align_ms = MsSince(t0);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("face detection: ") + e.what());
    }
    return faces;
  }

 public:
  Result<std::vector<Face>> Analyze(const uint8_t* data, size_t size, StageTiming* timing) override {
    StageTiming local;
    StageTiming& t = timing ? *timing : local;
    Result<std::vector<Face>> r = DetectAndAlign(data, size, &t);
    if (!r.ok()) return r;
    std::vector<Face>& faces = r.value();
    const auto t0 = Clock::now();
    std::vector<const std::vector<uint8_t>*> chips;
    for (const auto& f : faces) chips.push_back(&f.chip);
    std::vector<Descriptor> descs;
    if (Status st = net_->Describe(chips, &descs); !st.ok()) return st;
    for (size_t i = 0; i < faces.size(); ++i) faces[i].descriptor = descs[i];
    t.describe_ms = MsSince(t0);
    return r;
  }

  Result<Descriptor> DescribeChip(const std::vector<uint8_t>& chip) override {
    if (chip.size() != static_cast<size_t>(kChipSize * kChipSize * 3)) {
      return Status::InvalidArgument("a face chip must be " + std::to_string(kChipSize) + "x" +
                                     std::to_string(kChipSize) + " RGB");
    }
    std::vector<Descriptor> descs;
    if (Status st = net_->Describe({&chip}, &descs); !st.ok()) return st;
    return descs.front();
  }

  Result<Recognition> Recognize(const uint8_t* data, size_t size, const Gallery* gallery, float threshold) override {
    Recognition rec;
    Result<std::vector<Face>> r = Analyze(data, size, &rec.timing);
    if (!r.ok()) return r.status();
    rec.width = image_.original_width;
    rec.height = image_.original_height;
    for (auto& f : r.value()) rec.faces.push_back(RecognizedFace{std::move(f), Match{}});
    MatchFaces(gallery, threshold, &rec);
    return rec;
  }

 private:
  const EngineOptions options_;
  FhogScanner scanner_;  // dlib's frontal_face_detector, with faster FHOG features and filtering
  LandmarkPredictor predictor_;  // dlib's 68-point shape_predictor, evaluated faster; clones share the model
  std::unique_ptr<FaceNet> net_;
  // Scratch images, reused between calls (why an engine is not thread-safe).
  DecodedImage image_;
  dlib::array2d<unsigned char> gray_;   // image_ in grey, decoded size
  dlib::array2d<unsigned char> small_;  // gray_ scaled to detection_width
  dlib::array2d<unsigned char> up_;     // the detection image (or its region) upsampled
  dlib::array2d<unsigned char> crop_;   // a region of the detection image, scanned at 1x
};

}  // namespace

void MatchFaces(const Gallery* gallery, float threshold, Recognition* rec) {
  const auto t0 = Clock::now();
  for (auto& rf : rec->faces) {
    if (gallery != nullptr) {
      rf.match = gallery->Identify(rf.face.descriptor, threshold);
    } else {
      rf.match = Match{};
      rf.match.distance = std::numeric_limits<float>::infinity();
    }
  }
  rec->timing.match_ms = MsSince(t0);
}

Result<std::unique_ptr<FaceEngine>> FaceEngine::Open(const EngineOptions& options) {
  Result<WeightSet> weights = LoadFaceApiWeights(options.models_dir);
  if (!weights.ok()) return weights.status();
  Result<std::unique_ptr<FaceNet>> net = FaceNet::Create(weights.value());
  if (!net.ok()) return net.status();

  std::ifstream in(options.shape_predictor_path, std::ios::binary);
  if (!in) return Status::NotFound(options.shape_predictor_path + ": cannot open (apt-get install libdlib-data)");
  Result<LandmarkPredictor> predictor = LandmarkPredictor::Load(in);
  if (!predictor.ok()) {
    return Status::InvalidArgument(options.shape_predictor_path + ": " + predictor.status().message());
  }
  if (predictor.value().num_parts() != 68) {
    return Status::InvalidArgument(options.shape_predictor_path + ": has " +
                                   std::to_string(predictor.value().num_parts()) + " landmarks, expected 68");
  }
  try {
    return std::unique_ptr<FaceEngine>(std::make_unique<FaceEngineImpl>(
        options, FhogScanner(dlib::get_frontal_face_detector()), std::move(predictor).value(), std::move(net).value()));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("face detector: ") + e.what());
  }
}

}  // namespace iotstream::vision

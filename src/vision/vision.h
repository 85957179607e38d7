// vision: face recognition on still images, with no notion of HTTP, sockets or disks beyond reading the models.
//
//   decode (TurboJPEG / libpng, straight to RGB, DCT-scaled toward a detection width)
//   -> detect (dlib HOG frontal face detector, on grayscale)
//   -> align (dlib 68-point shape predictor, 150x150 face chip with 0.25 padding)
//   -> describe (dlib's ResNet "anet_type", weights from @vladmandic/face-api's quantised copy of dlib's model)
//   -> match (L2 distance against a Gallery held in memory).
//
// Two types:
//   FaceEngine: the models. NOT thread-safe: one instance per worker thread; Clone() gives another instance that
//               shares nothing mutable (weights are parsed from disk once, by Open()).
//   Gallery:    enrolled descriptors. Thread-safe (internal reader/writer lock).
// Errors: every fallible call returns iotstream::Status / Result<T>; no exception leaves this library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace iotstream::vision {

inline constexpr int kDescriptorSize = 128;
inline constexpr int kChipSize = 150;  // aligned face chips are kChipSize x kChipSize RGB
using Descriptor = std::array<float, kDescriptorSize>;

// A descriptor from the values the records keep of one: the first kDescriptorSize of them, zeros for any missing.
inline Descriptor ToDescriptor(const std::vector<float>& values) {
  Descriptor d{};
  for (size_t i = 0; i < values.size() && i < d.size(); ++i) d[i] = values[i];
  return d;
}

// Which BLAS the descriptor network runs on, for logs and health pages: "OpenBLAS, kernel Haswell, 1 thread(s)", or
// a warning text when it is not OpenBLAS. OpenBLAS 0.3.21 does not recognise every virtual CPU and may fall back to
// its slow "Prescott" kernel (descriptor ~2x slower): set OPENBLAS_CORETYPE=Haswell (or SkylakeX) in the environment
// before start. Thread-safe.
std::string BlasDescription();

// Euclidean (L2) distance between two descriptors. The same person is usually below 0.6.
float Distance(const Descriptor& a, const Descriptor& b);

struct EngineOptions {
  // ---- models ----
  // Folder holding face_recognition_model-weights_manifest.json and face_recognition_model.bin
  // (scripts/fetch-models.sh puts them in <repo>/.cache/models).
  std::string models_dir = ".cache/models";
  // dlib's 68-point landmark model (Debian package libdlib-data).
  std::string shape_predictor_path = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

  // ---- behaviour ----
  // Width of the image HOG scans. A JPEG at least twice this wide is decoded with the smallest TurboJPEG DCT scale
  // (1/2, 1/4, 1/8) that keeps it at least this wide; the grey copy is then resized to exactly this width for
  // detection, while landmarks and chips use the decoded (sharper) image. PNGs decode at full size.
  // 0 = detect at the decoded size. Boxes are always reported in original-image pixels.
  int detection_width = 640;
  // Times the image is doubled (dlib pyramid_up) before HOG detection: faces under ~80 px need 1 (slow: ~4x).
  int upsample = 0;
  // Added to the HOG detector's threshold; negative finds more (and more false) faces.
  double adjust_threshold = 0.0;
  // At most this many faces per image are aligned and described (the most confident ones).
  int max_faces = 16;
};

// A rectangle in the coordinates of the original (undecimated) image; clipped to the image.
struct Box {
  int x = 0, y = 0, w = 0, h = 0;
};

// One face found in an image.
struct Face {
  Box box;
  double detection_score = 0;  // HOG detection confidence
  std::vector<uint8_t> chip;   // kChipSize*kChipSize*3 bytes, RGB, row-major: the aligned face
  Descriptor descriptor{};     // filled only by calls that describe (Analyze, Recognize)
};

// Milliseconds spent per stage of one call (steady clock). Stages a call did not run stay 0.
struct StageTiming {
  double decode_ms = 0, detect_ms = 0, align_ms = 0, describe_ms = 0, match_ms = 0;
};

// The answer of Gallery::Identify.
struct Match {
  // Set when the nearest enrolled face is below the threshold and no negative example of that person is nearer.
  std::optional<int64_t> person_id;
  std::string name;  // the person's name when person_id is set, else empty
  // Distance to the nearest enrolled face of anyone (+infinity with an empty gallery), matched or not.
  float distance = 0;
  // The nearest person, even when unmatched (-1 with an empty gallery): lets callers record wrong-match feedback.
  int64_t nearest_person_id = -1;
  bool rejected_by_negative = false;  // unmatched only because a negative example of that person was nearer
};

// Enrolled faces: per person several descriptors ("faces") and negative examples ("this was wrongly matched to P").
// Thread-safe: every method may be called concurrently; Identify takes a shared lock, mutations an exclusive one.
// Ids are the caller's (e.g. SQLite row ids). Descriptors are held in flat arrays: no allocation per face on lookup.
class Gallery {
 public:
  Gallery() = default;
  Gallery(const Gallery&) = delete;
  Gallery& operator=(const Gallery&) = delete;

  // Adds a face of `person_id`, naming the person `name` (the latest name given wins).
  // Returns Conflict if `face_id` is already in the gallery (as a face or a negative example: in a cluster, a reload
  // may have taken the row in before its writer adds it), InvalidArgument for a descriptor with a non-finite value.
  Status AddFace(int64_t person_id, const std::string& name, int64_t face_id, const Descriptor& d);
  // Records `d` as a face that is NOT `person_id`. Same id rule as AddFace. The person need not have faces yet.
  Status AddNegative(int64_t person_id, int64_t example_id, const Descriptor& d);
  // Removes a face or a negative example. Returns NotFound if there is none with that id.
  Status RemoveFace(int64_t face_id);
  // Removes a person with all their faces and negative examples. Returns NotFound if the person has neither.
  Status RemovePerson(int64_t person_id);
  // Gives a person with faces a new name. Returns NotFound if the person has none.
  Status RenamePerson(int64_t person_id, const std::string& name);
  // Takes `fresh`'s contents in one step (an Identify sees the old gallery or the new one, never a mix); `fresh` is
  // left empty. For a gallery reloaded whole, e.g. after another cluster node changed it. REQUIRES: fresh != this.
  void ReplaceWith(Gallery& fresh);

  // The nearest enrolled face wins if its distance is < `threshold` and no negative example of that person is
  // nearer to `d` than the person's nearest own face. Never fails; an empty gallery gives an unmatched Match.
  Match Identify(const Descriptor& d, float threshold = 0.6f) const;

  size_t face_count() const;      // enrolled faces (negatives not counted)
  size_t negative_count() const;  // negative examples
  size_t person_count() const;    // people with at least one face

 private:
  // One flat table: descriptors row-major, the owner and id of each row alongside. Each row is also kept as int8
  // codes with a per-row scale: Identify scans those (4x less memory traffic) and re-scores in float only the rows
  // that the quantisation error bound cannot rule out, so its answer is exactly the float answer.
  struct Rows {
    std::vector<float> data;
    std::vector<int8_t> codes;
    std::vector<float> code_scale;  // row value ~= code * code_scale
    std::vector<float> code_error;  // bound on the L2 error of that approximation
    std::vector<int64_t> person;
    std::vector<int64_t> id;
    void Add(int64_t person_id, int64_t row_id, const Descriptor& d);
    void Erase(size_t row);  // swap with the last row
    size_t size() const { return id.size(); }
  };
  Status AddRow(bool negative, int64_t person_id, int64_t id, const Descriptor& d);
  void EraseRow(bool negative, size_t row);

  mutable std::shared_mutex mu_;
  Rows faces_;      // GUARDED_BY(mu_)
  Rows negatives_;  // GUARDED_BY(mu_)
  std::unordered_map<int64_t, std::pair<bool, size_t>> rows_by_id_;  // id -> (negative?, row); GUARDED_BY(mu_)
  std::unordered_map<int64_t, std::string> names_;                   // GUARDED_BY(mu_)
  std::unordered_map<int64_t, size_t> faces_per_person_;             // GUARDED_BY(mu_)
};

// A face with its identification, as Recognize returns it.
struct RecognizedFace {
  Face face;
  Match match;
  // Set by the recognition pool's tracking: this face continues a track of its camera that already had this
  // identity (the same person, or unknown both times), so it is the same appearance and no new event.
  bool continued = false;
  // The track (one appearance of one face on this camera) the face belongs to; 0 without tracking. Unique per
  // camera for the pool's life.
  uint64_t track_id = 0;
  // A continued face described again because it is clearly larger than every earlier face of its track: the
  // appearance's best face so far.
  bool better = false;
};

struct Recognition {
  int width = 0, height = 0;  // of the original image
  std::vector<RecognizedFace> faces;
  StageTiming timing;
};

// Identifies each face of `rec` in `gallery` (threshold as Gallery::Identify) and sets rec->timing.match_ms.
// `gallery` may be null: every face is then unmatched (distance +infinity). Thread-safe as Gallery::Identify.
void MatchFaces(const Gallery* gallery, float threshold, Recognition* rec);

// Groups faces by identity: faces nearer than `link_distance` are linked, and dlib's chinese_whispers labels the
// graph's groups. Returns one label per face, 0 to k-1, numbered in the order of each group's first face; the same
// input gives the same labels. O(n^2) distances: meant for a few thousand faces. Thread-safe (no shared state).
std::vector<size_t> ClusterFaces(const std::vector<Descriptor>& faces, float link_distance = 0.5f);

// The models and the pipeline. NOT thread-safe: use one instance per thread (Clone()); distinct instances may run
// concurrently. Inference holds no lock. Sets nothing process-wide (BLAS threading is the environment's:
// OPENBLAS_NUM_THREADS=1 is advised with one engine per core).
class FaceEngine {
 public:
  // Loads the shape predictor and the descriptor weights and builds the network.
  // Errors name the file at fault: NotFound (missing file), InvalidArgument (bad JSON, unknown or missing tensor,
  // wrong shape, truncated weights, unreadable landmark model), IOError. On error *no* engine is returned.
  static Result<std::unique_ptr<FaceEngine>> Open(const EngineOptions& options);

  virtual ~FaceEngine() = default;
  FaceEngine(const FaceEngine&) = delete;
  FaceEngine& operator=(const FaceEngine&) = delete;

  // Another engine with the same models and options, for another thread. Cheap compared to Open (no disk, no
  // parsing: the network and predictor are copied in memory, ~25 MB). REQUIRES: not concurrent with a use of *this.
  virtual std::unique_ptr<FaceEngine> Clone() const = 0;

  virtual const EngineOptions& options() const = 0;

  // Decodes a JPEG or PNG, detects, aligns and describes up to max_faces faces (most confident first).
  // No face is not an error (empty vector). InvalidArgument if the bytes are not a decodable JPEG/PNG.
  // `timing` (optional) receives decode/detect/align/describe times.
  virtual Result<std::vector<Face>> Analyze(const uint8_t* data, size_t size, StageTiming* timing = nullptr) = 0;

  // Like Analyze but stops after alignment: faces have box, score and chip; descriptor stays zero.
  virtual Result<std::vector<Face>> DetectAndAlign(const uint8_t* data, size_t size,
                                                   StageTiming* timing = nullptr) = 0;

  // Like DetectAndAlign, but the detector scans only `region` (original-image pixels; grown by half a detection
  // window so that faces on its edge are whole), and a region of at most a quarter of the picture is doubled first
  // (faces down to ~40 px at the detection width). `closer`: doubled once more where that costs at most 2.5 whole
  // pictures at 1x (a region of up to ~60 % of the picture doubled; up to ~15 % quadrupled), for a region where
  // the usual scan found no face. For a camera whose motion is known to lie in `region`. This default scans the
  // whole image; the dlib engine overrides it.
  virtual Result<std::vector<Face>> DetectAndAlignIn(const uint8_t* data, size_t size, const Box& region, bool closer,
                                                     StageTiming* timing = nullptr) {
    (void)region;
    (void)closer;
    return DetectAndAlign(data, size, timing);
  }

  // The descriptor of one aligned chip: kChipSize*kChipSize*3 RGB bytes. InvalidArgument on a wrong size.
  virtual Result<Descriptor> DescribeChip(const std::vector<uint8_t>& chip) = 0;

  // Analyze, then MatchFaces. The gallery is only read, under its own lock, for the match stage.
  virtual Result<Recognition> Recognize(const uint8_t* data, size_t size, const Gallery* gallery,
                                        float threshold = 0.6f) = 0;

 protected:
  FaceEngine() = default;
};

}  // namespace iotstream::vision

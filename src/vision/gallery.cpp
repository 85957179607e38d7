#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "vision/vision.h"

namespace iotstream::vision {
namespace {

// Squared L2 over 128 floats; 8 independent accumulators so the compiler vectorises without -ffast-math.
inline float SquaredDistance(const float* a, const float* b) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < kDescriptorSize; i += 8) {
    for (int j = 0; j < 8; ++j) {
      const float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

struct Candidate {
  size_t row;
  float lower;  // lower bound of the row's true distance
};

// Scans int8-coded rows: appends every row that may be the nearest (its lower bound is below the best upper bound
// seen so far) and returns the final best upper bound. RowApprox gives one row's approximate distance.
template <typename RowApprox>
inline float CoarseScan(RowApprox approx_of, const float* errors, size_t n, std::vector<Candidate>* candidates) {
  float upper = std::numeric_limits<float>::infinity();
  for (size_t row = 0; row < n; ++row) {
    const float approx = approx_of(row);
    const float lower = approx - errors[row];
    if (lower < upper) {
      candidates->push_back({row, lower});
      upper = std::min(upper, approx + errors[row]);
    }
  }
  return upper;
}

float CoarseScanPortable(const float* q, const int8_t* codes, const float* scales, const float* errors, size_t n,
                         std::vector<Candidate>* candidates) {
  return CoarseScan(
      [&](size_t row) {
        const int8_t* c = codes + row * kDescriptorSize;
        const float s = scales[row];
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < kDescriptorSize; i += 8) {
          for (int j = 0; j < 8; ++j) {
            const float d = q[i + j] - s * static_cast<float>(c[i + j]);
            acc[j] += d * d;
          }
        }
        return std::sqrt(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
      },
      errors, n, candidates);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) inline float RowApproxAvx2(const __m256* qv, const int8_t* c, float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (int i = 0; i < kDescriptorSize; i += 16) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i));
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(raw, 8)));
    const __m256 d0 = _mm256_fnmadd_ps(s, lo, qv[i / 8]);
    const __m256 d1 = _mm256_fnmadd_ps(s, hi, qv[i / 8 + 1]);
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(_mm_sqrt_ss(x));
}

__attribute__((target("avx2,fma"))) float CoarseScanAvx2(const float* q, const int8_t* codes, const float* scales,
                                                         const float* errors, size_t n,
                                                         std::vector<Candidate>* candidates) {
  __m256 qv[kDescriptorSize / 8];
  for (int i = 0; i < kDescriptorSize / 8; ++i) qv[i] = _mm256_loadu_ps(q + 8 * i);
  float upper = std::numeric_limits<float>::infinity();
  for (size_t row = 0; row < n; ++row) {
    const float approx = RowApproxAvx2(qv, codes + row * kDescriptorSize, scales[row]);
    const float lower = approx - errors[row];
    if (lower < upper) {
      candidates->push_back({row, lower});
      upper = std::min(upper, approx + errors[row]);
    }
  }
  return upper;
}
#endif

float CoarseScanBest(const float* q, const int8_t* codes, const float* scales, const float* errors, size_t n,
                     std::vector<Candidate>* candidates) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return CoarseScanAvx2(q, codes, scales, errors, n, candidates);
#endif
  return CoarseScanPortable(q, codes, scales, errors, n, candidates);
}

}  // namespace

float Distance(const Descriptor& a, const Descriptor& b) { return std::sqrt(SquaredDistance(a.data(), b.data())); }

void Gallery::Rows::Add(int64_t person_id, int64_t row_id, const Descriptor& d) {
  data.insert(data.end(), d.begin(), d.end());
  float max_abs = 0;
  for (float v : d) max_abs = std::max(max_abs, std::fabs(v));
  const float scale = max_abs > 0 ? max_abs / 127.0f : 1.0f;
  for (float v : d) codes.push_back(static_cast<int8_t>(std::lround(std::clamp(v / scale, -127.0f, 127.0f))));
  code_scale.push_back(scale);
  // Each element is off by at most scale/2, so the row is off by at most scale/2*sqrt(128) (triangle inequality);
  // the slack covers float rounding in the scan.
  code_error.push_back(scale * 0.5f * std::sqrt(static_cast<float>(kDescriptorSize)) * 1.001f + 1e-6f);
  person.push_back(person_id);
  id.push_back(row_id);
}

void Gallery::Rows::Erase(size_t row) {
  const size_t last = size() - 1;
  if (row != last) {
    std::copy_n(data.begin() + last * kDescriptorSize, kDescriptorSize, data.begin() + row * kDescriptorSize);
    std::copy_n(codes.begin() + last * kDescriptorSize, kDescriptorSize, codes.begin() + row * kDescriptorSize);
    code_scale[row] = code_scale[last];
    code_error[row] = code_error[last];
    person[row] = person[last];
    id[row] = id[last];
  }
  data.resize(last * kDescriptorSize);
  codes.resize(last * kDescriptorSize);
  code_scale.pop_back();
  code_error.pop_back();
  person.pop_back();
  id.pop_back();
}

Status Gallery::AddRow(bool negative, int64_t person_id, int64_t id, const Descriptor& d) {
  for (float v : d) {
    if (!std::isfinite(v)) return Status::InvalidArgument("descriptor has a non-finite value");
  }
  if (rows_by_id_.count(id)) return Status::Conflict("face id " + std::to_string(id) + " already enrolled");
  Rows& rows = negative ? negatives_ : faces_;
  rows_by_id_[id] = {negative, rows.size()};
  rows.Add(person_id, id, d);
  if (!negative) ++faces_per_person_[person_id];
  return Status::Ok();
}

void Gallery::EraseRow(bool negative, size_t row) {
  Rows& rows = negative ? negatives_ : faces_;
  const int64_t id = rows.id[row], person_id = rows.person[row];
  rows_by_id_.erase(id);
  if (!negative && --faces_per_person_[person_id] == 0) faces_per_person_.erase(person_id);
  rows.Erase(row);
  if (row < rows.size()) rows_by_id_[rows.id[row]] = {negative, row};  // the moved last row
}

Status Gallery::AddFace(int64_t person_id, const std::string& name, int64_t face_id, const Descriptor& d) {
  std::unique_lock lock(mu_);
  Status st = AddRow(false, person_id, face_id, d);
  if (st.ok()) names_[person_id] = name;
  return st;
}

Status Gallery::AddNegative(int64_t person_id, int64_t example_id, const Descriptor& d) {
  std::unique_lock lock(mu_);
  return AddRow(true, person_id, example_id, d);
}

Status Gallery::RemoveFace(int64_t face_id) {
  std::unique_lock lock(mu_);
  auto it = rows_by_id_.find(face_id);
  if (it == rows_by_id_.end()) return Status::NotFound("no face " + std::to_string(face_id));
  const auto [negative, row] = it->second;
  EraseRow(negative, row);
  return Status::Ok();
}

Status Gallery::RemovePerson(int64_t person_id) {
  std::unique_lock lock(mu_);
  bool found = false;
  for (bool negative : {false, true}) {
    Rows& rows = negative ? negatives_ : faces_;
    for (size_t row = rows.size(); row-- > 0;) {
      if (rows.person[row] == person_id) {
        EraseRow(negative, row);
        found = true;
      }
    }
  }
  names_.erase(person_id);
  if (!found) return Status::NotFound("no person " + std::to_string(person_id));
  return Status::Ok();
}

Status Gallery::RenamePerson(int64_t person_id, const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = names_.find(person_id);
  if (it == names_.end()) return Status::NotFound("no person " + std::to_string(person_id));
  it->second = name;
  return Status::Ok();
}

void Gallery::ReplaceWith(Gallery& fresh) {
  std::scoped_lock lock(mu_, fresh.mu_);
  faces_ = std::exchange(fresh.faces_, {});
  negatives_ = std::exchange(fresh.negatives_, {});
  rows_by_id_ = std::exchange(fresh.rows_by_id_, {});
  names_ = std::exchange(fresh.names_, {});
  faces_per_person_ = std::exchange(fresh.faces_per_person_, {});
}

Match Gallery::Identify(const Descriptor& d, float threshold) const {
  std::shared_lock lock(mu_);
  Match m;
  float best = std::numeric_limits<float>::infinity();
  size_t best_row = 0;
  const float* q = d.data();
  const size_t n = faces_.size();
  thread_local std::vector<Candidate> candidates;  // reused: no allocation per query once warm
  candidates.clear();
  const float upper = CoarseScanBest(q, faces_.codes.data(), faces_.code_scale.data(), faces_.code_error.data(), n,
                                 &candidates);
  for (const Candidate& c : candidates) {
    if (c.lower > upper) continue;
    const float s = SquaredDistance(q, faces_.data.data() + c.row * kDescriptorSize);
    if (s < best || (s == best && c.row < best_row)) {
      best = s;
      best_row = c.row;
    }
  }
  if (n == 0) {
    m.distance = std::numeric_limits<float>::infinity();
    return m;
  }
  m.distance = std::sqrt(best);
  m.nearest_person_id = faces_.person[best_row];
  if (m.distance >= threshold) return m;
  for (size_t row = 0; row < negatives_.size(); ++row) {
    if (negatives_.person[row] == m.nearest_person_id &&
        SquaredDistance(q, negatives_.data.data() + row * kDescriptorSize) < best) {
      m.rejected_by_negative = true;
      return m;
    }
  }
  m.person_id = m.nearest_person_id;
  auto it = names_.find(m.nearest_person_id);
  if (it != names_.end()) m.name = it->second;
  return m;
}

size_t Gallery::face_count() const {
  std::shared_lock lock(mu_);
  return faces_.size();
}

size_t Gallery::negative_count() const {
  std::shared_lock lock(mu_);
  return negatives_.size();
}

size_t Gallery::person_count() const {
  std::shared_lock lock(mu_);
  return faces_per_person_.size();
}

}  // namespace iotstream::vision

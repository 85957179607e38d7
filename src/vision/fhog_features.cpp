#include "vision/fhog_features.h"

#include <algorithm>
#include <cmath>

#include <dlib/image_transforms/assign_image.h>

namespace iotstream::vision {
namespace {

constexpr int kBins = 18;  // contrast-sensitive orientations; the insensitive 9 fold o and o + 9
// dlib's unit vectors for the first 9 orientations (fhog.h), float as there.
constexpr float kDirX[9] = {1.0000f, 0.9397f, 0.7660f, 0.500f, 0.1736f, -0.1736f, -0.5000f, -0.7660f, -0.9397f};
constexpr float kDirY[9] = {0.0000f, 0.3420f, 0.6428f, 0.8660f, 0.9848f, 0.9848f, 0.8660f, 0.6428f, 0.3420f};

// Central differences and their length for columns [1, end) of one pixel row (a function of its own: GCC
// vectorises it only with the __restrict parameters).
void RowGradients(const unsigned char* __restrict up, const unsigned char* __restrict mid,
                  const unsigned char* __restrict down, long end, float* __restrict gx, float* __restrict gy,
                  float* __restrict magnitude) {
  for (long x = 1; x < end; ++x) {
    const int dx = mid[x + 1] - mid[x - 1];
    const int dy = down[x] - up[x];
    gx[x] = static_cast<float>(dx);
    gy[x] = static_cast<float>(dy);
    magnitude[x] = std::sqrt(static_cast<float>(dx * dx + dy * dy));  // exact in int, as in dlib's float
  }
}

// One row of a contrast-sensitive plane: each cell's histogram value clipped and scaled by its four blocks, summed;
// the four terms also add to the row's texture sums.
void SensitiveRow(const float* __restrict h, const float* __restrict c0, const float* __restrict c1,
                  const float* __restrict c2, const float* __restrict c3, const float* __restrict s0,
                  const float* __restrict s1, const float* __restrict s2, const float* __restrict s3, long n,
                  float* __restrict out, float* __restrict t0, float* __restrict t1, float* __restrict t2,
                  float* __restrict t3) {
  for (long x = 0; x < n; ++x) {
    const float m0 = std::min(h[x], c0[x]) * s0[x];
    const float m1 = std::min(h[x], c1[x]) * s1[x];
    const float m2 = std::min(h[x], c2[x]) * s2[x];
    const float m3 = std::min(h[x], c3[x]) * s3[x];
    out[x] = (m0 + m1) + (m2 + m3);
    t0[x] += m0;
    t1[x] += m1;
    t2[x] += m2;
    t3[x] += m3;
  }
}

}  // namespace

void FhogExtractor::operator()(const dlib::array2d<unsigned char>& image, int cell_size, int filter_rows_padding,
                               int filter_cols_padding, dlib::array<dlib::array2d<float>>* hog) {
  const long nr = image.nr(), nc = image.nc();
  // dlib's arithmetic, expression for expression, so that the grid is the same.
  const int cells_nr = static_cast<int>(static_cast<float>(nr) / static_cast<float>(cell_size) + 0.5);
  const int cells_nc = static_cast<int>(static_cast<float>(nc) / static_cast<float>(cell_size) + 0.5);
  const int hog_nr = std::max(cells_nr - 2, 0), hog_nc = std::max(cells_nc - 2, 0);
  if (hog_nr == 0 || hog_nc == 0) {
    hog->clear();
    hog->resize(kPlanes);  // as extract_fhog_features: 31 empty planes
    return;
  }

  // Orientation histograms, with a one-cell margin all round that takes the edge pixels' outer votes.
  const long hist_cols = cells_nc + 2;
  const long hist_plane = (cells_nr + 2) * hist_cols;
  hist_.assign(static_cast<size_t>(kBins * hist_plane), 0.0f);
  row_hist_.resize(static_cast<size_t>(kBins * hist_cols));

  const long visible_nr = std::min(static_cast<long>(cells_nr) * cell_size, nr) - 1;
  const long visible_nc = std::min(static_cast<long>(cells_nc) * cell_size, nc) - 1;
  const size_t row = static_cast<size_t>(std::max(visible_nc, 1L));
  gx_.resize(row), gy_.resize(row), magnitude_.resize(row), best_dot_.resize(row);
  bin_.resize(row), cell_x_.resize(row), weight_x0_.resize(row), weight_x1_.resize(row);
  // Each column's two cells and weights: the left cell gets weight_x1, the right one weight_x0.
  for (long x = 1; x < visible_nc; ++x) {
    const float xp = (static_cast<float>(x) + 0.5f) / static_cast<float>(cell_size) + 0.5f;
    const int ixp = static_cast<int>(xp);
    cell_x_[x] = ixp;
    weight_x0_[x] = xp - static_cast<float>(ixp);
    weight_x1_[x] = 1.0f - weight_x0_[x];
  }

  for (long y = 1; y < visible_nr; ++y) {
    const float yp = (static_cast<float>(y) + 0.5) / static_cast<float>(cell_size) - 0.5;
    const int iyp = static_cast<int>(std::floor(yp));
    const float vy0 = yp - static_cast<float>(iyp);
    const float vy1 = 1.0 - vy0;
    const unsigned char* up = &image[y - 1][0];
    const unsigned char* mid = &image[y][0];
    const unsigned char* down = &image[y + 1][0];
    float* __restrict gx = gx_.data();
    float* __restrict gy = gy_.data();
    float* __restrict magnitude = magnitude_.data();
    float* __restrict best = best_dot_.data();
    int* __restrict bin = bin_.data();
    RowGradients(up, mid, down, visible_nc, gx, gy, magnitude);
    std::fill(best_dot_.begin(), best_dot_.end(), 0.0f);
    std::fill(bin_.begin(), bin_.end(), 0);
    // The strongest of 18 orientations, the first on ties, as dlib's loop.
    for (int o = 0; o < 9; ++o) {
      const float dx = kDirX[o], dy = kDirY[o];
      for (long x = 1; x < visible_nc; ++x) {
        const float dot = gx[x] * dx + gy[x] * dy;
        float b = best[x];
        int k = bin[x];
        const bool positive = dot > b;
        b = positive ? dot : b;
        k = positive ? o : k;
        const bool negative = -dot > b;
        b = negative ? -dot : b;
        k = negative ? o + 9 : k;
        best[x] = b;
        bin[x] = k;
      }
    }
    std::fill(row_hist_.begin(), row_hist_.end(), 0.0f);
    float* votes = row_hist_.data();
    for (long x = 1; x < visible_nc; ++x) {
      float* cell = votes + bin[x] * hist_cols + cell_x_[x];
      cell[0] += magnitude[x] * weight_x1_[x];
      cell[1] += magnitude[x] * weight_x0_[x];
    }
    float* top = hist_.data() + (iyp + 1) * hist_cols;  // bin 0's cell row iyp + 1; iyp + 2 is one row down
    for (int o = 0; o < kBins; ++o) {
      const float* __restrict v = votes + o * hist_cols;
      float* __restrict h0 = top + o * hist_plane;
      float* __restrict h1 = h0 + hist_cols;
      for (long c = 0; c < hist_cols; ++c) {
        h0[c] += vy1 * v[c];
        h1[c] += vy0 * v[c];
      }
    }
  }

  // Energy of each cell (insensitive orientations), then each 2x2 block's clipping value and scale.
  energy_.assign(static_cast<size_t>(cells_nr) * cells_nc, 0.0f);
  for (int o = 0; o < 9; ++o) {
    for (long r = 0; r < cells_nr; ++r) {
      const float* __restrict a = hist_.data() + o * hist_plane + (r + 1) * hist_cols + 1;
      const float* __restrict b = a + 9 * hist_plane;
      float* __restrict e = energy_.data() + r * cells_nc;
      for (long c = 0; c < cells_nc; ++c) e[c] += (a[c] + b[c]) * (a[c] + b[c]);
    }
  }
  const long blocks_nc = cells_nc - 1;
  clip_.resize(static_cast<size_t>(cells_nr - 1) * blocks_nc);
  scale_.resize(clip_.size());
  const float eps = 0.0001f;
  for (long r = 0; r + 1 < cells_nr; ++r) {
    const float* e0 = energy_.data() + r * cells_nc;
    const float* e1 = e0 + cells_nc;
    for (long c = 0; c < blocks_nc; ++c) {
      const float clip = 0.2f * std::sqrt(e0[c] + e0[c + 1] + e1[c] + e1[c + 1] + eps);
      clip_[r * blocks_nc + c] = clip;
      scale_[r * blocks_nc + c] = 0.1f / clip;
    }
  }

  hog->resize(kPlanes);
  for (auto& plane : *hog) {
    plane.set_size(hog_nr + filter_rows_padding - 1, hog_nc + filter_cols_padding - 1);
    dlib::assign_all_pixels(plane, 0.0f);
  }
  const long row_offset = (filter_rows_padding - 1) / 2, col_offset = (filter_cols_padding - 1) / 2;
  texture_.resize(4 * static_cast<size_t>(hog_nc));
  float* t0 = texture_.data();
  float* t1 = t0 + hog_nc;
  float* t2 = t1 + hog_nc;
  float* t3 = t2 + hog_nc;
  for (long y = 0; y < hog_nr; ++y) {
    // The four blocks holding cell (y + 1, x + 1), in dlib's lane order: (y+1, x+1), (y, x+1), (y+1, x), (y, x).
    const float* __restrict c0 = clip_.data() + (y + 1) * blocks_nc + 1;
    const float* __restrict c1 = clip_.data() + y * blocks_nc + 1;
    const float* __restrict c2 = c0 - 1;
    const float* __restrict c3 = c1 - 1;
    const float* __restrict s0 = scale_.data() + (y + 1) * blocks_nc + 1;
    const float* __restrict s1 = scale_.data() + y * blocks_nc + 1;
    const float* __restrict s2 = s0 - 1;
    const float* __restrict s3 = s1 - 1;
    std::fill(texture_.begin(), texture_.end(), 0.0f);
    const long cell_row = (y + 2) * hist_cols + 2;
    for (int o = 0; o < kBins; ++o) {
      const float* __restrict h = hist_.data() + o * hist_plane + cell_row;
      float* __restrict out = &(*hog)[o][y + row_offset][col_offset];
      SensitiveRow(h, c0, c1, c2, c3, s0, s1, s2, s3, hog_nc, out, t0, t1, t2, t3);
    }
    for (int o = 0; o < 9; ++o) {
      const float* __restrict ha = hist_.data() + o * hist_plane + cell_row;
      const float* __restrict hb = ha + 9 * hist_plane;
      float* __restrict out = &(*hog)[kBins + o][y + row_offset][col_offset];
      for (long x = 0; x < hog_nc; ++x) {
        const float h = ha[x] + hb[x];
        out[x] = (std::min(h, c0[x]) * s0[x] + std::min(h, c1[x]) * s1[x]) +
                 (std::min(h, c2[x]) * s2[x] + std::min(h, c3[x]) * s3[x]);
      }
    }
    const float texture_scale = 2 * 0.2357;
    for (int k = 0; k < 4; ++k) {
      const float* __restrict t = texture_.data() + k * hog_nc;
      float* __restrict out = &(*hog)[27 + k][y + row_offset][col_offset];
      for (long x = 0; x < hog_nc; ++x) out[x] = t[x] * texture_scale;
    }
  }
}

}  // namespace iotstream::vision

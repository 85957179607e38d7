#include "vision/pyramid.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace iotstream::vision {
namespace {

void GatherRow(const unsigned char* row, const std::vector<int>& left, float* at_left, float* at_right) {
  const size_t n = left.size();
  for (size_t c = 0; c < n; ++c) {
    at_left[c] = row[left[c]];
    at_right[c] = row[left[c] + 1];
  }
}

}  // namespace

void PyramidDown6::operator()(const dlib::array2d<unsigned char>& in, dlib::array2d<unsigned char>* out) {
  const long in_rows = in.nr(), in_cols = in.nc();
  out->set_size((5 * in_rows) / 6, (5 * in_cols) / 6);
  const long out_rows = out->nr(), out_cols = out->nc();
  if (out->size() == 0 || in.size() == 0) return;
  const double x_scale = static_cast<double>(in_cols - 1) / static_cast<double>(std::max<long>(out_cols - 1, 1));
  const double y_scale = static_cast<double>(in_rows - 1) / static_cast<double>(std::max<long>(out_rows - 1, 1));

  // dlib's vector loop over columns: four positions in float, advanced by a float step of four columns, truncated
  // to the left column; it stops at the first group whose last right neighbour is outside the image.
  left_.clear();
  frac_.clear();
  inv_frac_.clear();
  {
    const double x0 = -4 * x_scale;
    const float step = static_cast<float>(4 * x_scale);
    float x[4] = {static_cast<float>(x0), static_cast<float>(x0 + x_scale), static_cast<float>(x0 + 2 * x_scale),
                  static_cast<float>(x0 + 3 * x_scale)};
    while (true) {
      int left[4];
      float frac[4];
      for (int k = 0; k < 4; ++k) {
        x[k] += step;
        left[k] = static_cast<int>(x[k]);
        frac[k] = x[k] - static_cast<float>(left[k]);
      }
      if (left[3] + 1 >= in_cols) break;
      for (int k = 0; k < 4; ++k) {
        left_.push_back(left[k]);
        frac_.push_back(frac[k]);
        inv_frac_.push_back(1.0f - frac[k]);
      }
    }
  }
  const long vector_cols = static_cast<long>(left_.size());
  for (auto* v : {&top_left_, &top_right_, &bottom_left_, &bottom_right_}) v->resize(left_.size());

  long top_row = -1, bottom_row = -1;  // the source rows gathered now
  double y = -y_scale;
  for (long r = 0; r < out_rows; ++r) {
    y += y_scale;
    const long top = static_cast<long>(std::floor(y));
    const long bottom = std::min(top + 1, in_rows - 1);
    const double tb_frac = y - static_cast<double>(top);
    if (top != top_row) {
      if (top == bottom_row) {
        std::swap(top_left_, bottom_left_);
        std::swap(top_right_, bottom_right_);
        bottom_row = -1;
      } else {
        GatherRow(&in[top][0], left_, top_left_.data(), top_right_.data());
      }
      top_row = top;
    }
    if (bottom != bottom_row) {
      GatherRow(&in[bottom][0], left_, bottom_left_.data(), bottom_right_.data());
      bottom_row = bottom;
    }

    const float below = static_cast<float>(tb_frac), above = static_cast<float>(1 - tb_frac);
    const float* frac = frac_.data();
    const float* inv = inv_frac_.data();
    const float* tl = top_left_.data();
    const float* tr = top_right_.data();
    const float* bl = bottom_left_.data();
    const float* br = bottom_right_.data();
    unsigned char* dst = &(*out)[r][0];
    for (long c = 0; c < vector_cols; ++c) {
      const float tlf = above * inv[c], trf = above * frac[c], blf = below * inv[c], brf = below * frac[c];
#if defined(__FMA__) && defined(__GNUC__) && !defined(__clang__)
      // How GCC (its C++ default, -ffp-contract=fast) fuses dlib's `tlf*tl + trf*tr + blf*bl + brf*br` when the
      // target has FMA.
      const float v = __builtin_fmaf(brf, br[c], __builtin_fmaf(blf, bl[c], __builtin_fmaf(trf, tr[c], tlf * tl[c])));
#else
      // Unfused, as without FMA, or as Clang leaves dlib's (its operators are separate functions, which Clang does
      // not fuse across): one product per statement keeps Clang from fusing these.
      const float p0 = tlf * tl[c];
      const float p1 = trf * tr[c];
      const float p2 = blf * bl[c];
      const float p3 = brf * br[c];
      const float v = ((p0 + p1) + p2) + p3;
#endif
      // dlib: static_cast<unsigned char>(v + 0.5), the sum in double. In float: the integer part, plus one if the
      // fraction (exact: v >= 0) is at least a half. v + 0.5f itself could round up across a power of two.
      const int whole = static_cast<int>(v);
      dst[c] = static_cast<unsigned char>(whole + ((v - static_cast<float>(whole)) >= 0.5f ? 1 : 0));
    }
    // dlib's scalar tail, as dlib writes it (mixed float and double; assign_pixel clamps and truncates).
    double x = -x_scale + static_cast<double>(vector_cols) * x_scale;
    for (long c = vector_cols; c < out_cols; ++c) {
      x += x_scale;
      const long left = static_cast<long>(std::floor(x));
      const long right = std::min(left + 1, in_cols - 1);
      const float lr_frac = static_cast<float>(x - static_cast<double>(left));
      const float ftl = in[top][left], ftr = in[top][right], fbl = in[bottom][left], fbr = in[bottom][right];
      const float temp = static_cast<float>((1 - tb_frac) * ((1 - lr_frac) * ftl + lr_frac * ftr) +
                                            tb_frac * ((1 - lr_frac) * fbl + lr_frac * fbr));
      dst[c] = temp <= 0 ? 0 : temp >= 255 ? 255 : static_cast<unsigned char>(temp);
    }
  }
}

}  // namespace iotstream::vision

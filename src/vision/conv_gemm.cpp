#include "vision/conv_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>

namespace iotstream::vision {
namespace {

// Stores a finished micro-tile (kNr pixels x kMr filters, pixel-major: the accumulators hold filters along their
// lanes) transposed into the row-major output, with the bias added. Rows past `rows` (the zero padding of the last
// filter panel) are not stored.
template <int kNr, int kMr>
inline void StoreTile(const float* tile, long rows, float* c, long ldc, const float* bias) {
  for (long f = 0; f < rows; ++f) {
    const float b = bias != nullptr ? bias[f] : 0.0f;
    float* dst = c + f * ldc;
    for (int j = 0; j < kNr; ++j) dst[j] = tile[j * kMr + f] + b;
  }
}

// One micro-tile: a panel of kMr filters times kNr pixels, summed over every tap in 2 * kNr vector accumulators.
// Pixel j's value for tap t is b[tap_offsets[t] + j * kStride]: b is the input itself (pixels in one output row,
// kStride = the convolution's stride) or a packed panel (kStride = 1).
template <int kNr, int kStride>
__attribute__((target("avx512f,fma"))) void Tile512(long taps, const float* a, const float* b, const int* tap_offsets,
                                                     long rows, float* c, long ldc, const float* bias) {
  constexpr int kMr = 32;
  __m512 lo[kNr], hi[kNr];
#pragma GCC unroll 16
  for (int j = 0; j < kNr; ++j) lo[j] = hi[j] = _mm512_setzero_ps();
  for (long t = 0; t < taps; ++t, a += kMr) {
    const __m512 a0 = _mm512_loadu_ps(a), a1 = _mm512_loadu_ps(a + 16);
    const float* bt = b + tap_offsets[t];
#pragma GCC unroll 16
    for (int j = 0; j < kNr; ++j) {
      const __m512 x = _mm512_set1_ps(bt[j * kStride]);
      lo[j] = _mm512_fmadd_ps(a0, x, lo[j]);
      hi[j] = _mm512_fmadd_ps(a1, x, hi[j]);
    }
  }
  alignas(64) float tile[kNr * kMr];
#pragma GCC unroll 16
  for (int j = 0; j < kNr; ++j) {
    _mm512_store_ps(tile + j * kMr, lo[j]);
    _mm512_store_ps(tile + j * kMr + 16, hi[j]);
  }
  StoreTile<kNr, kMr>(tile, rows, c, ldc, bias);
}

template <int kNr, int kStride>
__attribute__((target("avx2,fma"))) void Tile256(long taps, const float* a, const float* b, const int* tap_offsets,
                                                  long rows, float* c, long ldc, const float* bias) {
  constexpr int kMr = 16;
  __m256 lo[kNr], hi[kNr];
#pragma GCC unroll 8
  for (int j = 0; j < kNr; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
  for (long t = 0; t < taps; ++t, a += kMr) {
    const __m256 a0 = _mm256_loadu_ps(a), a1 = _mm256_loadu_ps(a + 8);
    const float* bt = b + tap_offsets[t];
#pragma GCC unroll 8
    for (int j = 0; j < kNr; ++j) {
      const __m256 x = _mm256_broadcast_ss(bt + j * kStride);
      lo[j] = _mm256_fmadd_ps(a0, x, lo[j]);
      hi[j] = _mm256_fmadd_ps(a1, x, hi[j]);
    }
  }
  alignas(32) float tile[kNr * kMr];
#pragma GCC unroll 8
  for (int j = 0; j < kNr; ++j) {
    _mm256_store_ps(tile + j * kMr, lo[j]);
    _mm256_store_ps(tile + j * kMr + 8, hi[j]);
  }
  StoreTile<kNr, kMr>(tile, rows, c, ldc, bias);
}

using TileFn = void (*)(long taps, const float* a, const float* b, const int* tap_offsets, long rows, float* c,
                        long ldc, const float* bias);

// Tiles<T, kStride>(...)[w - 1]: the micro-kernel for a pixel panel w wide.
template <template <int, int> class Tile, int kStride, int... kWidths>
constexpr auto Tiles(std::integer_sequence<int, kWidths...>) {
  return std::array<TileFn, sizeof...(kWidths)>{Tile<kWidths + 1, kStride>::fn...};
}
template <int kNr, int kStride>
struct Avx512Tile {
  static constexpr TileFn fn = &Tile512<kNr, kStride>;
};
template <int kNr, int kStride>
struct Avx2Tile {
  static constexpr TileFn fn = &Tile256<kNr, kStride>;
};
constexpr int kAvx512Nr = 14, kAvx2Nr = 6;
// [stride - 1][w - 1]
constexpr std::array<std::array<TileFn, kAvx512Nr>, 2> kAvx512Tiles = {
    Tiles<Avx512Tile, 1>(std::make_integer_sequence<int, kAvx512Nr>{}),
    Tiles<Avx512Tile, 2>(std::make_integer_sequence<int, kAvx512Nr>{})};
constexpr std::array<std::array<TileFn, kAvx2Nr>, 2> kAvx2Tiles = {
    Tiles<Avx2Tile, 1>(std::make_integer_sequence<int, kAvx2Nr>{}),
    Tiles<Avx2Tile, 2>(std::make_integer_sequence<int, kAvx2Nr>{})};

// The micro-kernel for a pixel panel w wide whose pixels lie `stride` apart (1 or 2).
TileFn TileFor(GemmKernel kernel, long stride, long w) {
  return kernel == GemmKernel::kAvx512 ? kAvx512Tiles[stride - 1][w - 1] : kAvx2Tiles[stride - 1][w - 1];
}

}  // namespace

bool CpuRuns(GemmKernel kernel) {
  __builtin_cpu_init();  // a no-op after main() starts; needed if a static initialiser asks first
  switch (kernel) {
    case GemmKernel::kBlas:
      return true;
    case GemmKernel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmKernel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  }
  return false;
}

GemmKernel BestGemmKernel() {
  static const GemmKernel best = CpuRuns(GemmKernel::kAvx512) ? GemmKernel::kAvx512
                                 : CpuRuns(GemmKernel::kAvx2) ? GemmKernel::kAvx2
                                                              : GemmKernel::kBlas;
  return best;
}

PanelShape PanelsOf(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::kAvx2:
      return {16, kAvx2Nr};
    case GemmKernel::kAvx512:
      return {32, kAvx512Nr};
    case GemmKernel::kBlas:
      break;
  }
  std::abort();
}

void PackWeights(GemmKernel kernel, const float* weights, long filters, long taps, std::vector<float>* packed) {
  const long mr = PanelsOf(kernel).filters;
  const long panels = (filters + mr - 1) / mr;
  packed->assign(static_cast<size_t>(panels * mr * taps), 0.0f);
  for (long f = 0; f < filters; ++f) {
    float* dst = packed->data() + (f / mr) * mr * taps + f % mr;
    const float* src = weights + f * taps;
    for (long t = 0; t < taps; ++t) dst[t * mr] = src[t];
  }
}

void PackedConv(GemmKernel kernel, const ConvShape& shape, long filters, const float* packed_weights,
                const float* bias, const float* input, ConvScratch* scratch, float* out) {
  // Read from a copy of the input with a zero border pad wide: every tap of every pixel is then inside it.
  const long rows = shape.in_rows + 2 * shape.pad_y, cols = shape.in_cols + 2 * shape.pad_x;
  const float* src = input;
  if (shape.pad_y != 0 || shape.pad_x != 0) {
    scratch->padded.assign(static_cast<size_t>(shape.channels * rows * cols), 0.0f);
    for (long c = 0; c < shape.channels; ++c) {
      for (long y = 0; y < shape.in_rows; ++y) {
        const float* from = input + (c * shape.in_rows + y) * shape.in_cols;
        float* to = scratch->padded.data() + (c * rows + y + shape.pad_y) * cols + shape.pad_x;
        std::copy(from, from + shape.in_cols, to);
      }
    }
    src = scratch->padded.data();
  }
  const PanelShape panel = PanelsOf(kernel);
  const long taps = shape.taps(), pixels = shape.pixels();
  std::vector<int>& offsets = scratch->tap_offsets;
  offsets.resize(static_cast<size_t>(taps));
  // One pixel panel: every filter panel times it. Pixel panels outside, filter panels inside: the panel's inputs
  // stay in L1/L2 while the filter panels stream past from L2; the layers whose weights outgrow L2 have a single
  // pixel panel, so their weights are read once.
  auto multiply = [&](TileFn tile, const float* b, long first_pixel) {
    for (long f0 = 0; f0 < filters; f0 += panel.filters) {
      tile(taps, packed_weights + f0 * taps, b, offsets.data(), std::min(panel.filters, filters - f0),
           out + f0 * pixels + first_pixel, pixels, bias != nullptr ? bias + f0 : nullptr);
    }
  };

  // Each output row cut into panels of near equal width (35 = 12 + 12 + 11 rather than 14 + 14 + 7: the kernel is
  // fastest near its full width). Panels of 5 pixels or more (10 accumulators) are read in place; narrower ones
  // leave the kernel waiting on its FMAs' latency, so those rows are gathered. Measured on this VM: an 8-wide row
  // on AVX2 (4 + 4) took 1.3x or more the time of gathering it into 6-wide panels; on AVX-512, gathering the 8-
  // and 9-wide rows into 14-wide panels cost 1.2-1.5x.
  const long count = (shape.out_cols + panel.pixels - 1) / panel.pixels;
  if (shape.out_cols / count >= 5 && shape.stride_x <= 2) {
    // Straight from the input, one output row at a time: a row of pixels reads each tap's values `stride` apart.
    long t = 0;
    for (long c = 0; c < shape.channels; ++c)
      for (long ky = 0; ky < shape.rows; ++ky)
        for (long kx = 0; kx < shape.cols; ++kx) offsets[t++] = static_cast<int>((c * rows + ky) * cols + kx);
    for (long oy = 0; oy < shape.out_rows; ++oy) {
      for (long i = 0, ox = 0; i < count; ++i) {
        const long w = shape.out_cols / count + (i < shape.out_cols % count ? 1 : 0);
        multiply(TileFor(kernel, shape.stride_x, w), src + oy * shape.stride_y * cols + ox * shape.stride_x,
                 oy * shape.out_cols + ox);
        ox += w;
      }
    }
    return;
  }

  // Narrow rows (the last levels' 3x3 and 1x1; 8x8 on AVX2): gather the patches into panels of full width that run
  // across rows, tap after tap (patch(t, j) at t * w + j).
  scratch->packed.resize(static_cast<size_t>(taps * panel.pixels));
  long at[std::max(kAvx512Nr, kAvx2Nr)];  // where each pixel of the panel has its window in src
  for (long p0 = 0; p0 < pixels; p0 += panel.pixels) {
    const long w = std::min(panel.pixels, pixels - p0);
    for (long j = 0; j < w; ++j) {
      at[j] = ((p0 + j) / shape.out_cols) * shape.stride_y * cols + ((p0 + j) % shape.out_cols) * shape.stride_x;
    }
    float* dst = scratch->packed.data();
    for (long c = 0; c < shape.channels; ++c) {
      for (long ky = 0; ky < shape.rows; ++ky) {
        for (long kx = 0; kx < shape.cols; ++kx, dst += w) {
          const float* tap = src + (c * rows + ky) * cols + kx;
          for (long j = 0; j < w; ++j) dst[j] = tap[at[j]];
        }
      }
    }
    for (long t = 0; t < taps; ++t) offsets[t] = static_cast<int>(t * w);
    multiply(TileFor(kernel, 1, w), scratch->packed.data(), p0);
  }
}

}  // namespace iotstream::vision

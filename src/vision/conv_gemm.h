// Private to src/vision. The GEMM behind fast_con_ (fast_conv.h): out = weights x patches + bias, with both
// operands in packed panels, for the face descriptor's convolutions.
//
// Why: the weights of a trained network are constant, yet a BLAS sgemm packs them again on every call (about 40 %
// of OpenBLAS's sgemm time on the descriptor), and its other operand, the patch matrix, is the input copied out
// 9 or 49 times over. Here the layer packs its weights once, the kernel reads the patches from the input where
// it lies, and a register-blocked FMA micro-kernel (AVX-512 or AVX2, chosen at run time: libdlib and this project
// are built for baseline x86-64 unless IOTSTREAM_VISION_NATIVE) multiplies them.
//
// Packed weights, for a kernel with panels of mr filters: the last panel zero-padded to mr filters; panel i
// holds, tap after tap, the mr weights of filters i*mr .. i*mr+mr-1 for that tap: weight(f, t) at
// [(f / mr) * mr * taps + t * mr + f % mr]. The patches are not packed: the kernel reads each output row's
// pixels straight from a zero-bordered copy of the input (an "implicit GEMM"), a table giving each tap's offset;
// only outputs narrower than a panel (3x3, 1x1) are gathered into panels first.
// The sums run over the taps in order, one FMA per tap: results equal a plain dot product up to float rounding.
//
// Thread-safety: the functions are pure (BestGemmKernel caches its answer in a thread-safe static).
#pragma once

#include <vector>

namespace iotstream::vision {

enum class GemmKernel {
  kBlas,    // no packed kernel: fast_con_ calls cblas_sgemm on a row-major patch matrix
  kAvx2,    // AVX2 + FMA, tiles of 16 filters x up to 6 pixels
  kAvx512,  // AVX-512F, tiles of 32 filters x up to 14 pixels
};

// Whether this CPU can run `kernel` (kBlas always).
bool CpuRuns(GemmKernel kernel);

// The fastest kernel this CPU runs.
GemmKernel BestGemmKernel();

struct PanelShape {
  long filters = 0;  // mr
  long pixels = 0;   // nr
};

// REQUIRES: kernel != kBlas.
PanelShape PanelsOf(GemmKernel kernel);

// Packs `weights` (filters x taps, row-major) for `kernel` into *packed (resized).
// REQUIRES: kernel != kBlas.
void PackWeights(GemmKernel kernel, const float* weights, long filters, long taps, std::vector<float>* packed);

// One convolution's geometry, as dlib's con_ sees it (an output pixel's window starts at oy*stride_y - pad_y).
struct ConvShape {
  long channels = 0, in_rows = 0, in_cols = 0;
  long rows = 0, cols = 0;  // of a filter
  long stride_y = 1, stride_x = 1, pad_y = 0, pad_x = 0;
  long out_rows = 0, out_cols = 0;
  long taps() const { return channels * rows * cols; }
  long pixels() const { return out_rows * out_cols; }
};

// Scratch space PackedConv reuses between calls.
struct ConvScratch {
  std::vector<float> padded;    // the input with a zero border
  std::vector<float> packed;    // patches gathered into a panel, for outputs narrower than a panel
  std::vector<int> tap_offsets;
};

// out[f * pixels + p] = (bias ? bias[f] : 0) + sum over taps t of weight(f, t) * patch(t, p) for one sample, where
// patch(t, p) for tap t = (c * rows + ky) * cols + kx and pixel p = oy * out_cols + ox is
// input(c, oy*stride_y - pad_y + ky, ox*stride_x - pad_x + kx), zero outside the input; `input` is channels x
// in_rows x in_cols and `out` filters x out_rows x out_cols (dlib's tensor layout for one sample).
// REQUIRES: kernel != kBlas, CpuRuns(kernel); packed_weights from PackWeights(kernel, .., filters, shape.taps());
// the input with its zero border under 2^31 floats (tap offsets are int).
void PackedConv(GemmKernel kernel, const ConvShape& shape, long filters, const float* packed_weights,
                const float* bias, const float* input, ConvScratch* scratch, float* out);

}  // namespace iotstream::vision

// Private to src/vision. fast_con_: dlib's con_ layer with a faster forward pass, for inference.
//
// Why: dlib's CPU convolution lives in libdlib.so, built for baseline x86-64. It gathers the im2col matrix one
// float at a time behind a bounds check, then copies the GEMM's result into the output tensor: on the face
// descriptor network that took more time than the GEMM itself. This forward pass has one GEMM per sample write
// straight into the output tensor: by default conv_gemm.h's AVX-512 / AVX2 kernel, the weights packed once per
// layer and the patches read from the input where they lie; on a CPU with neither, cblas_sgemm on a patch matrix
// laid out a row per (channel, filter tap), each filled from one input row at a time (a copy for stride 1). The
// result equals con_'s up to the order of float additions.
//
// Everything else (parameter layout, setup, serialisation, printing) is con_'s, so weights are loaded exactly as
// into con_. Inference only: backward() is con_'s, and it needs state that only con_'s own forward pass sets up;
// to train, use dlib::con and copy the parameters over.
//
// Thread-safety: as any dlib layer, none; one network per thread.
#pragma once

// Before any dlib header: dlib then calls this CBLAS instead of declaring its own prototypes, whose enum types
// differ from these (GCC accepts the pair, clang rejects it).
#include <cblas.h>

#include <algorithm>
#include <istream>
#include <vector>

#include <dlib/dnn.h>

#include "vision/conv_gemm.h"

namespace iotstream::vision {

template <long kFilters, long kRows, long kCols, int kStrideY, int kStrideX>
class fast_con_ : public dlib::con_<kFilters, kRows, kCols, kStrideY, kStrideX> {
  using Base = dlib::con_<kFilters, kRows, kCols, kStrideY, kStrideX>;

 public:
  // The GEMM this layer runs (default: the fastest the CPU has); tests pick each one in turn.
  // REQUIRES: CpuRuns(kernel).
  void set_gemm_kernel(GemmKernel kernel) {
    kernel_ = kernel;
    packed_stale_ = true;
  }
  GemmKernel gemm_kernel() const { return kernel_; }

  // The packed weights are made on the first forward pass after anything that may change the parameters: the
  // non-const get_layer_params() (write through the reference it returns before the next forward pass, not
  // through one kept from before it), setup, deserialize, disabling or enabling the bias.
  const dlib::tensor& get_layer_params() const { return Base::get_layer_params(); }
  dlib::tensor& get_layer_params() {
    packed_stale_ = true;
    return Base::get_layer_params();
  }
  template <typename SUBNET>
  void setup(const SUBNET& sub) {
    Base::setup(sub);
    packed_stale_ = true;
  }
  void disable_bias() {
    Base::disable_bias();
    packed_stale_ = true;
  }
  void enable_bias() {
    Base::enable_bias();
    packed_stale_ = true;
  }
  friend void deserialize(fast_con_& item, std::istream& in) {
    deserialize(static_cast<Base&>(item), in);
    item.packed_stale_ = true;
  }

  template <typename SUBNET>
  void forward(const SUBNET& sub, dlib::resizable_tensor& output) {
    const dlib::tensor& in = sub.get_output();
    const long pad_y = this->padding_y(), pad_x = this->padding_x();
    const long out_rows = 1 + (in.nr() + 2 * pad_y - kRows) / kStrideY;
    const long out_cols = 1 + (in.nc() + 2 * pad_x - kCols) / kStrideX;
    const long taps = in.k() * kRows * kCols;  // the GEMM's inner dimension
    const long pixels = out_rows * out_cols;
    output.set_size(in.num_samples(), kFilters, out_rows, out_cols);

    // con_'s parameters: filters [kFilters][k][kRows][kCols], i.e. a kFilters x taps matrix, then the biases.
    const float* weights = Base::get_layer_params().host();
    const float* bias = this->bias_is_disabled() ? nullptr : weights + kFilters * taps;
    const long in_plane = in.nr() * in.nc();
    if (kernel_ != GemmKernel::kBlas) {
      if (packed_stale_) {
        PackWeights(kernel_, weights, kFilters, taps, &packed_weights_);
        packed_stale_ = false;
      }
      const ConvShape shape{.channels = in.k(), .in_rows = in.nr(), .in_cols = in.nc(), .rows = kRows,
                            .cols = kCols, .stride_y = kStrideY, .stride_x = kStrideX, .pad_y = pad_y,
                            .pad_x = pad_x, .out_rows = out_rows, .out_cols = out_cols};
      for (long n = 0; n < in.num_samples(); ++n) {
        PackedConv(kernel_, shape, kFilters, packed_weights_.data(), bias, in.host() + n * in.k() * in_plane,
                   &scratch_, output.host() + n * kFilters * pixels);
      }
      return;
    }
    patches_.resize(static_cast<size_t>(taps * pixels));
    for (long n = 0; n < in.num_samples(); ++n) {
      FillPatches(in.host() + n * in.k() * in_plane, in.k(), in.nr(), in.nc(), out_rows, out_cols);
      float* out = output.host() + n * kFilters * pixels;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kFilters, pixels, taps, 1.0f, weights, taps,
                  patches_.data(), pixels, 0.0f, out, pixels);
      if (bias != nullptr) {
        for (long f = 0; f < kFilters; ++f) {
          float* row = out + f * pixels;
          const float b = bias[f];
          for (long i = 0; i < pixels; ++i) row[i] += b;
        }
      }
    }
  }

 private:
  // For cblas_sgemm: patches_[(c * kRows + ky) * kCols + kx][oy * out_cols + ox] = input(c, oy*sy - pad_y + ky,
  // ox*sx - pad_x + kx), zero outside the input: the transpose of dlib's img2col layout, so the filters multiply it
  // as they are stored.
  void FillPatches(const float* src, long channels, long in_rows, long in_cols, long out_rows, long out_cols) {
    const long pad_y = this->padding_y(), pad_x = this->padding_x();
    float* dst = patches_.data();
    for (long c = 0; c < channels; ++c) {
      const float* plane = src + c * in_rows * in_cols;
      for (long ky = 0; ky < kRows; ++ky) {
        for (long kx = 0; kx < kCols; ++kx) {
          // Output columns whose input column ox*sx - pad_x + kx lies inside [0, in_cols).
          const long first = std::min(out_cols, std::max(0L, (pad_x - kx + kStrideX - 1) / kStrideX));
          const long last = std::max(first, std::min(out_cols, (in_cols - 1 + pad_x - kx) / kStrideX + 1));
          for (long oy = 0; oy < out_rows; ++oy, dst += out_cols) {
            const long iy = oy * kStrideY - pad_y + ky;
            if (iy < 0 || iy >= in_rows) {
              std::fill(dst, dst + out_cols, 0.0f);
              continue;
            }
            const float* line = plane + iy * in_cols + first * kStrideX - pad_x + kx;
            std::fill(dst, dst + first, 0.0f);
            if constexpr (kStrideX == 1) {
              std::copy(line, line + (last - first), dst + first);
            } else {
              for (long ox = first; ox < last; ++ox, line += kStrideX) dst[ox] = *line;
            }
            std::fill(dst + last, dst + out_cols, 0.0f);
          }
        }
      }
    }
  }

  GemmKernel kernel_ = BestGemmKernel();
  std::vector<float> packed_weights_;  // the filters packed for kernel_ (conv_gemm.h)
  bool packed_stale_ = true;           // packed_weights_ must be made again before use
  ConvScratch scratch_;                // PackedConv's, reused between calls
  std::vector<float> patches_;         // scratch for cblas_sgemm, reused between calls
};

template <long kFilters, long kRows, long kCols, int kStrideY, int kStrideX, typename SUBNET>
using fast_con = dlib::add_layer<fast_con_<kFilters, kRows, kCols, kStrideY, kStrideX>, SUBNET>;

}  // namespace iotstream::vision

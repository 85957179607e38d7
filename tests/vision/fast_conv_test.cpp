// fast_con_ (src/vision/fast_conv.h) against dlib's own con_: same parameters, same input, same output, for each
// kind of convolution the face descriptor network has (3x3 stride 1 padded, 3x3 stride 2, 7x7 stride 2), on odd and
// even sizes, several samples, with and without bias, through each GEMM this CPU runs (conv_gemm.h: cblas, AVX2,
// AVX-512; sizes that are not multiples of their panels too). Also: the packed weights follow new parameters.
#include "vision/fast_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <dlib/dnn.h>

namespace iotstream::vision {
namespace {

// What a layer's forward() reads of the layer below it.
struct Input {
  const dlib::tensor& get_output() const { return output; }
  dlib::resizable_tensor output;
};

const char* Name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::kBlas:
      return "cblas";
    case GemmKernel::kAvx2:
      return "AVX2";
    case GemmKernel::kAvx512:
      return "AVX-512";
  }
  return "?";
}

float WorstDifference(const dlib::tensor& got, const dlib::tensor& want, float* largest) {
  float worst = 0;
  *largest = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got.host()[i] - want.host()[i]));
    *largest = std::max(*largest, std::abs(want.host()[i]));
  }
  return worst;
}

template <long F, long R, long C, int S>
void ExpectSameAsDlibWith(GemmKernel kernel, long samples, long channels, long rows, long cols, bool bias) {
  SCOPED_TRACE(testing::Message() << Name(kernel) << ": " << F << " filters " << R << "x" << C << " stride " << S
                                  << " on " << samples << "x" << channels << "x" << rows << "x" << cols
                                  << (bias ? " with" : " without") << " bias");
  dlib::tt::tensor_rand rnd(rows * 1000 + cols);
  Input in;
  in.output.set_size(samples, channels, rows, cols);
  rnd.fill_gaussian(in.output);

  dlib::con_<F, R, C, S, S> reference;
  fast_con_<F, R, C, S, S> fast;
  fast.set_gemm_kernel(kernel);
  if (!bias) {
    reference.disable_bias();
    fast.disable_bias();
  }
  reference.setup(in);
  fast.setup(in);
  rnd.fill_gaussian(reference.get_layer_params());  // biases too: setup() zeroes them
  ASSERT_EQ(fast.get_layer_params().size(), reference.get_layer_params().size());
  std::copy(reference.get_layer_params().begin(), reference.get_layer_params().end(),
            fast.get_layer_params().begin());

  dlib::resizable_tensor want, got;
  reference.forward(in, want);
  fast.forward(in, got);
  ASSERT_EQ(got.num_samples(), want.num_samples());
  ASSERT_EQ(got.k(), want.k());
  ASSERT_EQ(got.nr(), want.nr());
  ASSERT_EQ(got.nc(), want.nc());
  float largest = 0;
  const float worst = WorstDifference(got, want, &largest);
  EXPECT_LT(worst, 1e-5f * largest) << "largest difference " << worst << " of values up to " << largest;
}

template <long F, long R, long C, int S>
void ExpectSameAsDlib(long samples, long channels, long rows, long cols, bool bias) {
  for (GemmKernel kernel : {GemmKernel::kBlas, GemmKernel::kAvx2, GemmKernel::kAvx512}) {
    if (CpuRuns(kernel)) ExpectSameAsDlibWith<F, R, C, S>(kernel, samples, channels, rows, cols, bias);
  }
}

TEST(FastConvTest, TheDefaultKernelIsTheBestThisCpuRuns) {
  const GemmKernel best = BestGemmKernel();
  EXPECT_TRUE(CpuRuns(best));
  const fast_con_<8, 3, 3, 1, 1> layer;
  EXPECT_EQ(layer.gemm_kernel(), best);
  if (CpuRuns(GemmKernel::kAvx512)) {
    EXPECT_EQ(best, GemmKernel::kAvx512);
  }
  std::printf("this CPU runs: cblas%s%s\n", CpuRuns(GemmKernel::kAvx2) ? ", AVX2" : "",
              CpuRuns(GemmKernel::kAvx512) ? ", AVX-512" : "");
}

TEST(FastConvTest, PaddedThreeByThreeStrideOneEqualsDlib) {
  ExpectSameAsDlib<32, 3, 3, 1>(1, 8, 11, 13, true);
  ExpectSameAsDlib<16, 3, 3, 1>(3, 5, 6, 6, true);
  ExpectSameAsDlib<8, 3, 3, 1>(2, 4, 2, 9, false);
}

TEST(FastConvTest, ThreeByThreeStrideTwoEqualsDlib) {
  ExpectSameAsDlib<32, 3, 3, 2>(1, 8, 12, 11, true);
  ExpectSameAsDlib<16, 3, 3, 2>(2, 6, 9, 10, false);
}

TEST(FastConvTest, SevenBySevenStrideTwoEqualsDlib) {
  ExpectSameAsDlib<32, 7, 7, 2>(2, 3, 21, 20, true);
  ExpectSameAsDlib<8, 7, 7, 2>(1, 3, 7, 8, true);
}

// Filter counts that are not multiples of the filter panels (16, 32), rows around the pixel panels (6, 14), rows
// too short to be read in place (gathered into panels), a long inner dimension, and the descriptor's smallest
// outputs (3x3 and 1x1 pixels from stride 2).
// (dlib fills tensors with random numbers only in pairs: every tensor here has an even size.)
TEST(FastConvTest, OddPanelRemaindersEqualDlib) {
  ExpectSameAsDlib<40, 3, 3, 1>(2, 7, 5, 3, true);    // 40 filters, 15 pixels
  ExpectSameAsDlib<24, 3, 3, 1>(1, 3, 2, 7, false);   // 24 filters, 14 pixels
  ExpectSameAsDlib<48, 3, 3, 1>(1, 6, 1, 13, true);   // 48 filters, 13 pixels
  ExpectSameAsDlib<64, 3, 3, 1>(1, 70, 4, 4, true);   // 630 taps
  ExpectSameAsDlib<33, 3, 3, 2>(2, 9, 7, 7, true);    // 3x3 pixels
  ExpectSameAsDlib<32, 3, 3, 2>(1, 256, 3, 3, true);  // 1 pixel, 2304 taps
  ExpectSameAsDlib<16, 7, 7, 2>(1, 3, 35, 36, true);  // 15x15 pixels
  ExpectSameAsDlib<32, 3, 3, 2>(1, 4, 9, 37, true);   // 4x18 pixels
}

// The descriptor's own shapes at its largest: the first layer on the 150x150 chip and a first-level block.
TEST(FastConvTest, DescriptorShapesEqualDlib) {
  ExpectSameAsDlib<32, 7, 7, 2>(1, 3, 150, 150, true);
  ExpectSameAsDlib<32, 3, 3, 1>(1, 32, 35, 35, true);
  ExpectSameAsDlib<64, 3, 3, 2>(1, 32, 35, 35, true);
}

// Parameters written after a forward pass (as FaceNet::Create loads its weights after the first one) are used.
TEST(FastConvTest, NewParametersAreRepacked) {
  for (GemmKernel kernel : {GemmKernel::kBlas, GemmKernel::kAvx2, GemmKernel::kAvx512}) {
    if (!CpuRuns(kernel)) continue;
    SCOPED_TRACE(Name(kernel));
    dlib::tt::tensor_rand rnd(7);
    Input in;
    in.output.set_size(1, 6, 9, 8);
    rnd.fill_gaussian(in.output);
    dlib::con_<32, 3, 3, 1, 1> reference;
    fast_con_<32, 3, 3, 1, 1> fast;
    fast.set_gemm_kernel(kernel);
    reference.setup(in);
    fast.setup(in);
    dlib::resizable_tensor want, got;
    for (int round = 0; round < 2; ++round) {
      rnd.fill_gaussian(reference.get_layer_params());
      std::copy(reference.get_layer_params().begin(), reference.get_layer_params().end(),
                fast.get_layer_params().begin());
      reference.forward(in, want);
      fast.forward(in, got);
      float largest = 0;
      const float worst = WorstDifference(got, want, &largest);
      EXPECT_LT(worst, 1e-5f * largest) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace iotstream::vision

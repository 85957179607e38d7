// fast_con_ (src/vision/fast_conv.h) against dlib's own con_: same parameters, same input, same output, for each
// kind of convolution the face descriptor network has (3x3 stride 1 padded, 3x3 stride 2, 7x7 stride 2), on odd and
// even sizes, several samples, with and without bias.
#include "vision/fast_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <dlib/dnn.h>

namespace iotstream::vision {
namespace {

// What a layer's forward() reads of the layer below it.
struct Input {
  const dlib::tensor& get_output() const { return output; }
  dlib::resizable_tensor output;
};

template <long F, long R, long C, int S>
void ExpectSameAsDlib(long samples, long channels, long rows, long cols, bool bias) {
  SCOPED_TRACE(testing::Message() << F << " filters " << R << "x" << C << " stride " << S << " on " << samples << "x"
                                  << channels << "x" << rows << "x" << cols << (bias ? " with" : " without")
                                  << " bias");
  dlib::tt::tensor_rand rnd(rows * 1000 + cols);
  Input in;
  in.output.set_size(samples, channels, rows, cols);
  rnd.fill_gaussian(in.output);

  dlib::con_<F, R, C, S, S> reference;
  fast_con_<F, R, C, S, S> fast;
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
  float worst = 0, largest = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got.host()[i] - want.host()[i]));
    largest = std::max(largest, std::abs(want.host()[i]));
  }
  EXPECT_LT(worst, 1e-5f * largest) << "largest difference " << worst << " of values up to " << largest;
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

}  // namespace
}  // namespace iotstream::vision

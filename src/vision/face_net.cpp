#include "vision/face_net.h"

#include <algorithm>
#include <exception>
#include <string>

#include "vision/fast_conv.h"  // before any other dlib header: it brings <cblas.h> (see there) and <dlib/dnn.h>

namespace iotstream::vision {
namespace {

// dlib's dnn_face_recognition_ex.cpp, layer for layer, with fast_con in place of con (see fast_conv.h) and without
// its affine layers: each one's per-channel x*gamma+beta (face-api's "scale") is folded into the conv before it
// (filters times gamma, bias*gamma+beta), which saves a pass over every conv's output. Same function; the float
// rounding differs from an unfolded network's only in the last bits.
template <template <int, int, typename> class block, int N, typename SUBNET>
using residual = dlib::add_prev1<block<N, 1, dlib::tag1<SUBNET>>>;

template <template <int, int, typename> class block, int N, typename SUBNET>
using residual_down =
    dlib::add_prev2<dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<block<N, 2, dlib::tag1<SUBNET>>>>>>;

template <int N, int stride, typename SUBNET>
using block = fast_con<N, 3, 3, 1, 1, dlib::relu<fast_con<N, 3, 3, stride, stride, SUBNET>>>;

template <int N, typename SUBNET>
using ares = dlib::relu<residual<block, N, SUBNET>>;
template <int N, typename SUBNET>
using ares_down = dlib::relu<residual_down<block, N, SUBNET>>;

template <typename SUBNET>
using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET>
using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET>
using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET>
using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET>
using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using anet_type = dlib::loss_metric<dlib::fc_no_bias<
    128, dlib::avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<dlib::max_pool<
             3, 3, 2, 2,
             dlib::relu<fast_con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<kChipSize>>>>>>>>>>>>;

// The layers with parameters, from the output to the input (visit_computational_layers' order).
struct Found {
  struct Conv {
    dlib::tensor* params;
    long filters, rows, cols;
  };
  std::vector<Conv> convs;
  dlib::tensor* fc = nullptr;
};

// visit_computational_layers takes its visitor by value: it writes through a pointer.
struct Collector {
  Found* found;
  template <long nf, long nr, long nc, int sy, int sx>
  void operator()(fast_con_<nf, nr, nc, sy, sx>& l) {
    found->convs.push_back({&l.get_layer_params(), nf, nr, nc});
  }
  template <unsigned long n, dlib::fc_bias_mode m>
  void operator()(dlib::fc_<n, m>& l) {
    found->fc = &l.get_layer_params();
  }
  template <typename T>
  void operator()(T&) {}
};

}  // namespace

struct FaceNet::Impl {
  anet_type net;
  std::vector<dlib::matrix<dlib::rgb_pixel>> batch;  // reused input buffers
};

FaceNet::FaceNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaceNet::~FaceNet() = default;

Result<std::unique_ptr<FaceNet>> FaceNet::Create(const WeightSet& weights) {
  try {
    auto impl = std::make_unique<Impl>();
    anet_type& net = impl->net;
    // Layer parameters exist only after the first forward pass.
    dlib::matrix<dlib::rgb_pixel> blank(kChipSize, kChipSize);
    dlib::assign_all_pixels(blank, dlib::rgb_pixel(0, 0, 0));
    (void)net(blank);

    Found c;
    dlib::visit_computational_layers(net, Collector{&c});
    std::reverse(c.convs.begin(), c.convs.end());
    const auto& names = ConvLayerNames();
    if (c.convs.size() != names.size() || c.fc == nullptr) {
      return Status::Internal("face descriptor network: " + std::to_string(c.convs.size()) +
                              " conv layers, expected " + std::to_string(names.size()));
    }
    auto tensor = [&weights](const std::string& name) -> const WeightTensor& { return weights.tensors.at(name); };

    for (size_t i = 0; i < names.size(); ++i) {
      const WeightTensor& f = tensor(names[i] + "/conv/filters");  // [kh, kw, in, out]
      const WeightTensor& b = tensor(names[i] + "/conv/bias");
      const long kh = f.shape[0], kw = f.shape[1], in = f.shape[2], out = f.shape[3];
      dlib::tensor& p = *c.convs[i].params;  // filters [out][in][kh][kw], then biases [out]
      if (kh != c.convs[i].rows || kw != c.convs[i].cols || out != c.convs[i].filters ||
          static_cast<size_t>(p.size()) != static_cast<size_t>(out * in * kh * kw + out)) {
        return Status::InvalidArgument(names[i] + "/conv/filters does not fit dlib layer " + std::to_string(i));
      }
      const WeightTensor& gamma = tensor(names[i] + "/scale/weights");
      const WeightTensor& beta = tensor(names[i] + "/scale/biases");
      if (gamma.values.size() != static_cast<size_t>(out) || beta.values.size() != static_cast<size_t>(out) ||
          b.values.size() != static_cast<size_t>(out)) {
        return Status::InvalidArgument(names[i] + "/scale or /conv/bias does not fit dlib layer " + std::to_string(i));
      }
      float* dst = p.host();
      for (long o = 0; o < out; ++o)
        for (long ci = 0; ci < in; ++ci)
          for (long y = 0; y < kh; ++y)
            for (long x = 0; x < kw; ++x)
              dst[((o * in + ci) * kh + y) * kw + x] = f.values[((y * kw + x) * in + ci) * out + o] * gamma.values[o];
      for (long o = 0; o < out; ++o) dst[out * in * kh * kw + o] = b.values[o] * gamma.values[o] + beta.values[o];
    }
    const WeightTensor& fc = tensor("fc");  // [in][out], dlib's fc_ layout too
    if (static_cast<size_t>(c.fc->size()) != fc.values.size()) {
      return Status::InvalidArgument("fc does not fit dlib's fc_no_bias layer");
    }
    std::copy(fc.values.begin(), fc.values.end(), c.fc->host());
    return std::unique_ptr<FaceNet>(new FaceNet(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("face descriptor network: ") + e.what());
  }
}

std::unique_ptr<FaceNet> FaceNet::Clone() const {
  auto impl = std::make_unique<Impl>();
  impl->net = impl_->net;
  return std::unique_ptr<FaceNet>(new FaceNet(std::move(impl)));
}

Status FaceNet::Describe(const std::vector<const std::vector<uint8_t>*>& chips, std::vector<Descriptor>* out) {
  if (chips.empty()) return Status::Ok();
  try {
    auto& batch = impl_->batch;
    batch.resize(chips.size());
    for (size_t i = 0; i < chips.size(); ++i) {
      batch[i].set_size(kChipSize, kChipSize);
      const uint8_t* src = chips[i]->data();
      for (long r = 0; r < kChipSize; ++r)
        for (long col = 0; col < kChipSize; ++col, src += 3) batch[i](r, col) = dlib::rgb_pixel(src[0], src[1], src[2]);
    }
    std::vector<dlib::matrix<float, 0, 1>> descs = impl_->net(batch, /*batch_size=*/batch.size());
    for (const auto& d : descs) {
      Descriptor o;
      std::copy(d.begin(), d.end(), o.begin());
      out->push_back(o);
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("face descriptor network: ") + e.what());
  }
}

}  // namespace iotstream::vision

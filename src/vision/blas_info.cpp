#include <dlfcn.h>

#include <string>

#include "vision/vision.h"

namespace iotstream::vision {

std::string BlasDescription() {
  // dlib links libblas.so.3; Debian's alternatives decide which BLAS that is. OpenBLAS exports these.
  using CoreName = char* (*)();
  using NumThreads = int (*)();
  auto core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (core == nullptr) return "not OpenBLAS (reference BLAS: the descriptor is ~10x slower; apt-get install libopenblas-dev)";
  std::string s = std::string("OpenBLAS, kernel ") + core();
  if (auto threads = reinterpret_cast<NumThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
    s += ", " + std::to_string(threads()) + " thread(s)";
  }
  return s;
}

}  // namespace iotstream::vision

#include "support/server_test.h"

namespace iotstream::testing {

void ServerTest::SetUp() {
  const std::string problem = FacesProblem();
  if (!problem.empty()) FAIL() << problem;
  obama_ = FaceJpeg(kObama);
  biden_ = FaceJpeg(kBiden);
}

}  // namespace iotstream::testing

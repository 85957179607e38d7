// The fixture of the tests that drive the real iotstream binary: a temporary data folder, the face photos
// (their absence fails the test, loudly, instead of skipping it) and Start(), the server on free ports.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace iotstream::testing {

class ServerTest : public ::testing::Test {
 protected:
  static constexpr const char* kObama = "ageitgey_face_recognition/examples/obama-480p.jpg";
  static constexpr const char* kBiden = "ageitgey_face_recognition/examples/biden.jpg";

  // Fails the test when FacesDir() holds no photo set; loads obama_ and biden_.
  void SetUp() override;

  // The server's data folder (created by Start; the same folder on every call, so a restart finds its data).
  std::filesystem::path data() const { return dir_.path() / "data"; }
  // The server with `args` on free ports over data(); see ServerProcess.
  ServerProcess Start(std::vector<std::string> args = {}) const { return ServerProcess(data(), std::move(args)); }

  TempDir dir_;
  std::string obama_, biden_;
};

}  // namespace iotstream::testing

// A test certificate authority and a server certificate it signed, made with the openssl command-line tool, for
// the TLS suites. Not thread-safe; one per test.
#pragma once

#include <filesystem>
#include <string>

namespace iotstream::testing {

struct TestCertificates {
  std::string ca_file;    // the CA's certificate (what clients trust)
  std::string cert_file;  // the server's certificate, for 127.0.0.1, ::1 and localhost, signed by the CA
  std::string key_file;   // the server's key
  std::string ca_key_file;  // the CA's key: a valid key that is not the server certificate's
};

// Makes them in `dir` (EC P-256, valid for two days). Fails the current test (and returns empty names) when
// openssl fails.
TestCertificates MakeTestCertificates(const std::filesystem::path& dir);

// Runs `command` with /bin/sh; its exit status (-1 when it could not run) and its stdout.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult RunCommand(const std::string& command);

}  // namespace iotstream::testing

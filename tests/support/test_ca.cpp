#include "support/test_ca.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace iotstream::testing {

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, out)) > 0) r.out.append(buf, n);
  const int status = pclose(out);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TestCertificates MakeTestCertificates(const std::filesystem::path& dir) {
  const std::string d = dir.string() + "/";
  std::ofstream(d + "server.ext") << "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                                  << "basicConstraints=critical,CA:FALSE\n"
                                  << "keyUsage=critical,digitalSignature\n"
                                  << "extendedKeyUsage=serverAuth\n";
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  const std::string commands[] = {
      "openssl req -x509" + ec + " -keyout " + d + "ca.key -out " + d + "ca.pem -days 2 -subj /CN=iotstream-test-ca",
      "openssl req" + ec + " -keyout " + d + "server.key -out " + d + "server.csr -subj /CN=127.0.0.1",
      "openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d + "ca.key -CAcreateserial -out " +
          d + "server.pem -days 2 -extfile " + d + "server.ext",
  };
  for (const auto& c : commands) {
    const CommandResult r = RunCommand(c + " 2>&1");
    if (r.status != 0) {
      ADD_FAILURE() << c << " failed:\n" << r.out;
      return {};
    }
  }
  return {d + "ca.pem", d + "server.pem", d + "server.key", d + "ca.key"};
}

}  // namespace iotstream::testing

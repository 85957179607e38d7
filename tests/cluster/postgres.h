// The cluster tests' real parts: a PostgreSQL server of this machine's installation in a temporary folder, HAProxy,
// and the child processes they run as. Not thread-safe; one per test.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace iotstream::testing {

// A program started in the background with its output in `log`. It dies with the test process
// (PR_SET_PDEATHSIG), and the destructor sends `stop_signal` and waits, so nothing outlives a failed test.
class ChildProcess {
 public:
  struct RunAs {
    uid_t uid;
    gid_t gid;
  };
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log, int stop_signal,
               std::optional<RunAs> run_as = std::nullopt);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running();  // false once it exited (reaps it)
  // Sends `sig` and waits for the exit (SIGKILL after 30 s); returns the wait status, -1 when it was not running.
  int Stop(int sig);
  // Waits for it to exit by itself; returns the wait status, -1 when it was not running.
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stop_signal_;
};

// Runs `argv` to completion (output into `log`); its exit status, or -1 when it could not run or was killed.
int RunToCompletion(const std::vector<std::string>& argv, const std::filesystem::path& log,
                    std::optional<ChildProcess::RunAs> run_as = std::nullopt);

// PostgreSQL from /usr/lib/postgresql/<newest>/bin (Debian), else from PATH: initdb (trust authentication, user
// `postgres`) into a temporary folder, then the server on 127.0.0.1 at a free port with its unix socket in that
// folder. As root it runs as the `postgres` account (PostgreSQL refuses root). The constructor fails the test (and
// leaves url() empty) when it does not come up; the destructor stops it and removes the folder.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://postgres@127.0.0.1:PORT/`database`; empty when the server never came up.
  std::string url(const std::string& database = "postgres") const;
  // Starts it again over the same data and port; false (and a test failure) when it does not accept within 30 s.
  bool Start();
  // Fast shutdown (connections are cut), waiting for it.
  void Stop();
  // CREATE DATABASE `name`; false (and a test failure) on error.
  bool CreateDatabase(const std::string& name);
  // The server's log so far.
  std::string Log() const;

 private:
  TempDir dir_;
  std::filesystem::path bin_;
  std::optional<ChildProcess::RunAs> run_as_;
  unsigned short port_ = 0;
  bool initialised_ = false;
  std::optional<ChildProcess> server_;
};

// Runs `sql` on `url` and returns its rows as text (NULL as ""); fails the test on error and returns no rows.
// `*ok` (when given) says whether it succeeded.
std::vector<std::vector<std::string>> Query(const std::string& url, const std::string& sql, bool* ok = nullptr);

// The haproxy program (PATH, else /usr/sbin/haproxy); empty when not installed.
std::string HaproxyBin();

}  // namespace iotstream::testing

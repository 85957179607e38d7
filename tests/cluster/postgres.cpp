#include "cluster/postgres.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

namespace iotstream::testing {
namespace fs = std::filesystem;

namespace {

// The first of `names` found as an executable file in one of the PATH folders; empty when none is.
fs::path OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, colon - start)) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return {};
}

// The folder of initdb, pg_ctl and postgres: Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH.
fs::path PostgresBinDir() {
  std::vector<std::pair<int, fs::path>> versions;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string v = d.path().filename().string();
    if (fs::exists(d.path() / "bin" / "initdb") && !v.empty() && std::all_of(v.begin(), v.end(), ::isdigit)) {
      versions.emplace_back(std::stoi(v), d.path() / "bin");
    }
  }
  if (!versions.empty()) return std::max_element(versions.begin(), versions.end())->second;
  const fs::path initdb = OnPath("initdb");
  return initdb.empty() ? fs::path() : initdb.parent_path();
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const fs::path& log, int stop_signal,
                           std::optional<RunAs> run_as)
    : stop_signal_(stop_signal) {
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) {
    ADD_FAILURE() << "cannot open " << log;
    return;
  }
  if (run_as && fchown(out, run_as->uid, run_as->gid) != 0) ADD_FAILURE() << "cannot hand " << log << " over";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls from here to exec.
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    if (run_as && (setgroups(0, nullptr) != 0 || setgid(run_as->gid) != 0 || setuid(run_as->uid) != 0)) _exit(126);
    // After setuid, which clears it: the child goes when the test process goes, however that ends.
    prctl(PR_SET_PDEATHSIG, stop_signal);
    if (getppid() != parent) _exit(125);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out);
  if (pid_ < 0) ADD_FAILURE() << "fork failed";
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(stop_signal_);
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  // A server that does not finish its shutdown in 30 s is killed, so that no test hangs on it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return status;
}

int ChildProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

int RunToCompletion(const std::vector<std::string>& argv, const fs::path& log,
                    std::optional<ChildProcess::RunAs> run_as) {
  ChildProcess child(argv, log, SIGKILL, run_as);
  const int status = child.Wait();
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

PostgresServer::PostgresServer() {
  bin_ = PostgresBinDir();
  if (bin_.empty()) {
    ADD_FAILURE() << "PostgreSQL is not installed (apt-get install postgresql; scripts/setup.sh with WITH_TEST_TOOLS=1)";
    return;
  }
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      ADD_FAILURE() << "running as root, and there is no 'postgres' account to run PostgreSQL as";
      return;
    }
    run_as_ = ChildProcess::RunAs{pw->pw_uid, pw->pw_gid};
    if (chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      ADD_FAILURE() << "cannot hand " << dir_.path() << " to postgres";
      return;
    }
  }
  const int rc = RunToCompletion({(bin_ / "initdb").string(), "-D", (dir_.path() / "data").string(), "-U", "postgres",
                                  "--auth=trust", "-N", "-E", "UTF8", "--locale=C"},
                                 dir_.path() / "initdb.log", run_as_);
  if (rc != 0) {
    ADD_FAILURE() << "initdb failed (" << rc << "):\n" << ReadFile(dir_.path() / "initdb.log");
    return;
  }
  initialised_ = true;
  port_ = FreePort();
  Start();
}

PostgresServer::~PostgresServer() { Stop(); }

std::string PostgresServer::url(const std::string& database) const {
  if (port_ == 0 || !initialised_) return {};
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

bool PostgresServer::Start() {
  if (!initialised_) return false;
  // Durability is not what these tests are about: without fsync a start and each commit are much faster.
  server_.emplace(std::vector<std::string>{(bin_ / "postgres").string(), "-D", (dir_.path() / "data").string(), "-p",
                                           std::to_string(port_), "-k", dir_.path().string(), "-c",
                                           "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                                           "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
                                           "max_connections=40"},
                  dir_.path() / "postgres.log", SIGINT, run_as_);
  const std::string conninfo = url() + "?connect_timeout=1";
  const bool up = WaitFor(
      [&] { return !server_->running() || PQping(conninfo.c_str()) == PQPING_OK; }, std::chrono::seconds(30));
  if (!up || !server_->running()) {
    ADD_FAILURE() << "PostgreSQL did not start; its log:\n" << Log();
    return false;
  }
  return true;
}

void PostgresServer::Stop() { server_.reset(); }

bool PostgresServer::CreateDatabase(const std::string& name) {
  bool ok = false;
  Query(url(), "CREATE DATABASE " + name, &ok);
  return ok;
}

std::string PostgresServer::Log() const { return ReadFile(dir_.path() / "postgres.log"); }

std::vector<std::vector<std::string>> Query(const std::string& url, const std::string& sql, bool* ok) {
  std::vector<std::vector<std::string>> rows;
  if (ok != nullptr) *ok = false;
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
  } else {
    if (ok != nullptr) *ok = true;
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
      rows.push_back(std::move(row));
    }
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

std::string HaproxyBin() {
  fs::path p = OnPath("haproxy");
  if (p.empty() && access("/usr/sbin/haproxy", X_OK) == 0) p = "/usr/sbin/haproxy";
  return p.string();
}

}  // namespace iotstream::testing

// `iotstream token ...` and `iotstream user ...`: account and token administration on a data folder (or a cluster's
// database), whether the server runs or not (a running server picks the change up within a second). `iotstream cluster ...`: what the
// cluster database knows, for the load balancer in front of the nodes.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/app.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/shared_state.h"
#include "core/clock.h"
#include "core/parse.h"

namespace iotstream::app {
namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  iotstream token create --name NAME --role admin|viewer|camera [--device ID] [--data-dir D]\n"
    "  iotstream token list [--data-dir D]\n"
    "  iotstream token revoke NAME|ID [--data-dir D]\n"
    "  iotstream user add NAME [--role admin|viewer] [--data-dir D]   (password: one line on stdin)\n"
    "  iotstream user passwd NAME [--data-dir D]                      (password: one line on stdin)\n"
    "  iotstream user remove NAME [--data-dir D]\n"
    "  iotstream user list [--data-dir D]\n"
    "  iotstream cluster haproxy-config --database URL [--port 9003] [--bind ADDR] [--check-interval-ms 1000]\n"
    "The data folder defaults to $IOTSTREAM_DATA_DIR, else ./data (as the server's --data-dir); the database to\n"
    "$IOTSTREAM_DATABASE (as the server's --database). token and user take --database URL too: a cluster's\n"
    "accounts live there, not in a data folder.\n";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "iotstream: " << problem << '\n';
  std::cerr << kUsage;
  return 2;
}

int Fail(const Status& st) {
  std::cerr << "iotstream: " << st.message() << '\n';
  return st.IsInvalidArgument() || st.IsNotFound() ? 2 : 1;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--role" -> "viewer"
};

// "--name x" and "--name=x"; every option takes a value, and must be one of `known`.
bool Parse(int argc, char** argv, int from, const std::vector<std::string>& known, Args* out, std::string* problem) {
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      out->positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      out->options[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      out->options[a] = argv[++i];
    } else {
      *problem = a + " needs a value";
      return false;
    }
  }
  for (const auto& [k, v] : out->options) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      *problem = "unknown option " + k;
      return false;
    }
  }
  return true;
}

std::string Option(const Args& a, const std::string& name, const std::string& fallback = "") {
  const auto it = a.options.find(name);
  return it == a.options.end() ? fallback : it->second;
}

// The password: one line from stdin (a prompt on a terminal).
std::string ReadPassword() {
  if (isatty(STDIN_FILENO)) std::cerr << "password: " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string Actor() {
  const char* user = std::getenv("USER");
  return std::string("cli:") + (user != nullptr ? user : std::to_string(getuid()));
}

void Audit(auth::AuthStore& store, const std::string& action, const std::string& detail) {
  auth::AuditRecord r;
  r.actor = Actor();
  r.address = "local";
  r.action = action;
  r.detail = detail;
  if (Status st = store.Append(std::move(r)); !st.ok()) std::cerr << "iotstream: audit: " << st.message() << '\n';
}

int TokenCommand(auth::AuthStore& store, const std::string& verb, const Args& a) {
  if (verb == "create") {
    const std::string name = Option(a, "--name", a.positional.empty() ? "" : a.positional[0]);
    const auto role = auth::ParseRole(Option(a, "--role"));
    if (name.empty() || !role) return Usage("token create needs --name and --role admin|viewer|camera");
    const std::string device = Option(a, "--device");
    auto token = store.CreateToken(name, *role, device, Actor());
    if (!token.ok()) return Fail(token.status());
    Audit(store, "token_create", name + " (" + std::string(auth::RoleName(*role)) + (device.empty() ? "" : ", " + device) + ")");
    std::cerr << "token '" << name << "' (" << auth::RoleName(*role) << (device.empty() ? "" : ", device " + device)
              << ") created; it is shown this once:\n";
    std::cout << token.value() << std::endl;
    return 0;
  }
  if (verb == "list") {
    auto tokens = store.ListTokens();
    if (!tokens.ok()) return Fail(tokens.status());
    std::cout << "ID\tNAME\tROLE\tDEVICE\tPREFIX\tCREATED (UTC)\tBY\n";
    for (const auto& t : tokens.value()) {
      std::cout << t.id << '\t' << t.name << '\t' << auth::RoleName(t.role) << '\t' << (t.device.empty() ? "-" : t.device)
                << '\t' << t.prefix << "...\t" << FormatUtc(t.created_ms, "%Y-%m-%d %H:%M:%S") << '\t' << t.created_by
                << '\n';
    }
    return 0;
  }
  if (verb == "revoke") {
    if (a.positional.size() != 1) return Usage("token revoke needs one NAME or ID");
    if (Status st = store.RevokeToken(a.positional[0]); !st.ok()) return Fail(st);
    Audit(store, "token_revoke", a.positional[0]);
    std::cerr << "token '" << a.positional[0] << "' revoked\n";
    return 0;
  }
  return Usage("unknown token command '" + verb + "'");
}

int UserCommand(auth::AuthStore& store, const std::string& verb, const Args& a) {
  if (verb == "list") {
    auto users = store.ListUsers();
    if (!users.ok()) return Fail(users.status());
    std::cout << "NAME\tROLE\tCREATED (UTC)\n";
    for (const auto& u : users.value()) {
      std::cout << u.name << '\t' << auth::RoleName(u.role) << '\t' << FormatUtc(u.created_ms, "%Y-%m-%d %H:%M:%S")
                << '\n';
    }
    return 0;
  }
  if (a.positional.size() != 1) return Usage("user " + verb + " needs one NAME");
  const std::string& name = a.positional[0];
  if (verb == "add") {
    const auto role = auth::ParseRole(Option(a, "--role", "viewer"));
    if (!role) return Usage("--role must be admin or viewer");
    if (Status st = store.AddUser(name, ReadPassword(), *role); !st.ok()) return Fail(st);
    Audit(store, "user_add", name + " (" + std::string(auth::RoleName(*role)) + ")");
    std::cerr << "user '" << name << "' (" << auth::RoleName(*role) << ") added\n";
    return 0;
  }
  if (verb == "passwd") {
    if (Status st = store.SetPassword(name, ReadPassword()); !st.ok()) return Fail(st);
    Audit(store, "user_passwd", name);
    std::cerr << "password of '" << name << "' changed; their sessions ended\n";
    return 0;
  }
  if (verb == "remove") {
    if (Status st = store.RemoveUser(name); !st.ok()) return Fail(st);
    Audit(store, "user_remove", name);
    std::cerr << "user '" << name << "' removed\n";
    return 0;
  }
  return Usage("unknown user command '" + verb + "'");
}

// `cluster haproxy-config`: the nodes registered in the database, as an HAProxy configuration on stdout.
int ClusterCommand(const std::string& verb, const Args& a) {
  if (verb != "haproxy-config") return Usage("unknown cluster command '" + verb + "'");
  if (!a.positional.empty()) return Usage("cluster haproxy-config takes no NAME");
  const char* env_database = std::getenv("IOTSTREAM_DATABASE");
  const std::string database = Option(a, "--database", env_database != nullptr ? env_database : "");
  if (database.empty()) return Usage("cluster haproxy-config needs --database (or $IOTSTREAM_DATABASE)");
  if (Status st = cluster::CheckDatabaseUrl(database); !st.ok()) return Usage("--database " + st.message());
  cluster::HaproxyOptions options;
  options.bind_address = Option(a, "--bind");
  const auto port = ParseInt(Option(a, "--port", std::to_string(options.port)));
  if (!port || *port < 1 || *port > 65'535) return Usage("--port must be 1 to 65535");
  options.port = static_cast<int>(*port);
  const auto interval = ParseInt(Option(a, "--check-interval-ms", std::to_string(options.check_interval_ms)));
  if (!interval || *interval < 100 || *interval > 60'000) return Usage("--check-interval-ms must be 100 to 60000");
  options.check_interval_ms = static_cast<int>(*interval);
  auto nodes = cluster::ListNodes(database);
  if (!nodes.ok()) {
    std::cerr << "iotstream: cannot read the nodes: " << nodes.status().message() << '\n';
    return 1;
  }
  auto config = cluster::RenderHaproxyConfig(nodes.value(), options);
  if (!config.ok()) {
    std::cerr << "iotstream: " << config.status().message() << '\n';
    return 1;
  }
  std::cout << config.value() << std::flush;
  return 0;
}

}  // namespace

bool IsCommand(const char* arg) {
  const std::string a = arg;
  return a == "token" || a == "user" || a == "cluster";
}

int RunCommand(int argc, char** argv) {
  if (argc < 3) return Usage("");
  const std::string noun = argv[1];
  const std::string verb = argv[2];
  Args args;
  std::string problem;
  if (noun == "cluster") {
    if (!Parse(argc, argv, 3, {"--database", "--port", "--bind", "--check-interval-ms"}, &args, &problem)) {
      return Usage(problem);
    }
    return ClusterCommand(verb, args);
  }
  if (!Parse(argc, argv, 3, {"--name", "--role", "--device", "--data-dir", "--database"}, &args, &problem)) {
    return Usage(problem);
  }
  const char* env_dir = std::getenv("IOTSTREAM_DATA_DIR");
  auth::AuthOptions options;
  options.data_dir = Option(args, "--data-dir", env_dir != nullptr ? env_dir : options.data_dir);
  const char* env_database = std::getenv("IOTSTREAM_DATABASE");
  const std::string database = Option(args, "--database", env_database != nullptr ? env_database : "");
  if (!database.empty()) {
    if (Status st = cluster::CheckDatabaseUrl(database); !st.ok()) return Usage("--database " + st.message());
  }
  auto opened = database.empty() ? auth::AuthStore::Open(options) : cluster::OpenPgAuthStore(database, options);
  if (!opened.ok()) return Fail(opened.status());
  auth::AuthStore& store = *opened.value();
  return noun == "token" ? TokenCommand(store, verb, args) : UserCommand(store, verb, args);
}

}  // namespace iotstream::app

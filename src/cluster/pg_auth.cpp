#include <atomic>
#include <mutex>

#include "auth/credentials.h"
#include "cluster/database.h"
#include "cluster/shared_state.h"
#include "core/clock.h"

namespace iotstream::cluster {
namespace {

using auth::Principal;
using auth::Role;

// In the caller's transaction: the other nodes reread the credentials once it commits.
constexpr const char* kBumpVersion = "UPDATE auth_state SET version = version + 1";

class PgAuthStore final : public auth::AuthStore {
 public:
  PgAuthStore(std::string url, const auth::AuthOptions& options, int64_t deadline_ms)
      : options_(options), db_(std::move(url), deadline_ms) {}

  std::optional<Principal> AuthenticateToken(std::string_view token) const override {
    return cache_.AuthenticateToken(token);
  }

  std::optional<Principal> AuthenticateSession(std::string_view session_id, int64_t now_ms) const override {
    return cache_.AuthenticateSession(session_id, now_ms);
  }

  Status Reload() override {
    auto version = db_.Query("SELECT version FROM auth_state");
    if (!version.ok()) return version.status();
    if (version.value().size() == 1 && pg::Int(version.value().Text(0, 0)) == loaded_version_) return Status::Ok();
    return ReloadNow();
  }

  Result<std::string> CreateToken(const std::string& name, Role role, const std::string& device,
                                  const std::string& created_by) override {
    if (Status st = auth::CheckTokenRequest(name, role, device); !st.ok()) return st;
    const std::string token = auth::NewToken();
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      auto used = c.Exec("SELECT 1 FROM tokens WHERE name = $1 AND revoked_ms IS NULL", {name});
      if (!used.ok()) return used.status();
      if (used.value().size() > 0) return Status::InvalidArgument("a token named '" + name + "' exists; revoke it first");
      if (Status s = c.Run("INSERT INTO tokens (name, role, device, hash, prefix, created_ms, created_by) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           {name, std::string(auth::RoleName(role)), device, auth::HashOf(token),
                            std::string(auth::TokenPrefix(token)), std::to_string(NowMs()), created_by});
          !s.ok()) {
        return s;
      }
      return c.Run(kBumpVersion);
    });
    if (!st.ok()) return st;
    if (Status s = ReloadNow(); !s.ok()) return s;
    return token;
  }

  Result<std::vector<auth::TokenInfo>> ListTokens() override {
    auto rows = db_.Query(
        "SELECT id, name, role, device, prefix, created_ms, created_by FROM tokens WHERE revoked_ms IS NULL "
        "ORDER BY id");
    if (!rows.ok()) return rows.status();
    std::vector<auth::TokenInfo> out;
    const pg::Rows& r = rows.value();
    for (int i = 0; i < r.size(); ++i) {
      out.push_back({pg::Int(r.Text(i, 0)), r.Text(i, 1), auth::ParseRole(r.Text(i, 2)).value_or(Role::kViewer),
                     r.Text(i, 3), r.Text(i, 4), pg::Int(r.Text(i, 5)), r.Text(i, 6)});
    }
    return out;
  }

  Status RevokeToken(const std::string& name_or_id) override {
    return Change([&](pg::Connection& c) -> Status {
      auto gone = c.Exec(
          "UPDATE tokens SET revoked_ms = $1 WHERE revoked_ms IS NULL AND (name = $2 OR id::text = $2) RETURNING id",
          {std::to_string(NowMs()), name_or_id});
      if (!gone.ok()) return gone.status();
      if (gone.value().size() == 0) return Status::NotFound("no live token '" + name_or_id + "'");
      return Status::Ok();
    });
  }

  Status AddUser(const std::string& name, const std::string& password, Role role) override {
    if (Status st = auth::CheckUserRequest(name, password, role); !st.ok()) return st;
    auto hash = auth::HashPassword(password);  // slow: before the transaction
    if (!hash.ok()) return hash.status();
    return Change([&](pg::Connection& c) { return InsertUser(c, name, hash.value(), role); });
  }

  Status SetPassword(const std::string& name, const std::string& password) override {
    if (Status st = auth::CheckPasswordText(password); !st.ok()) return st;
    auto hash = auth::HashPassword(password);
    if (!hash.ok()) return hash.status();
    return Change([&](pg::Connection& c) -> Status {
      auto set = c.Exec("UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING name", {hash.value(), name});
      if (!set.ok()) return set.status();
      if (set.value().size() == 0) return Status::NotFound("no user '" + name + "'");
      return c.Run("DELETE FROM sessions WHERE user_name = $1", {name});
    });
  }

  Status RemoveUser(const std::string& name) override {
    return Change([&](pg::Connection& c) -> Status {
      auto gone = c.Exec("DELETE FROM users WHERE name = $1 RETURNING name", {name});
      if (!gone.ok()) return gone.status();
      if (gone.value().size() == 0) return Status::NotFound("no user '" + name + "'");
      return c.Run("DELETE FROM sessions WHERE user_name = $1", {name});
    });
  }

  Result<std::vector<auth::UserInfo>> ListUsers() override {
    auto rows = db_.Query("SELECT name, role, created_ms FROM users ORDER BY name");
    if (!rows.ok()) return rows.status();
    std::vector<auth::UserInfo> out;
    const pg::Rows& r = rows.value();
    for (int i = 0; i < r.size(); ++i) {
      out.push_back({r.Text(i, 0), auth::ParseRole(r.Text(i, 1)).value_or(Role::kViewer), pg::Int(r.Text(i, 2))});
    }
    return out;
  }

  Result<std::optional<Principal>> CheckPassword(const std::string& name, const std::string& password) override {
    auto rows = db_.Query("SELECT password_hash, role FROM users WHERE name = $1", {name});
    if (!rows.ok()) return rows.status();
    std::string hash;
    Role role = Role::kViewer;
    if (rows.value().size() == 1) {
      hash = rows.value().Text(0, 0);
      role = auth::ParseRole(rows.value().Text(0, 1)).value_or(Role::kViewer);
    }
    return password_check_.Verify(name, role, hash, password);
  }

  Result<auth::Session> CreateSession(const Principal& principal, int64_t now_ms) override {
    const std::string user = principal.name.rfind("user:", 0) == 0 ? principal.name.substr(5) : principal.name;
    auth::Session s;
    s.id = auth::NewSessionId();
    s.principal = principal;
    s.expires_ms = now_ms + options_.session_ttl_ms;
    const Status st = Change([&](pg::Connection& c) -> Status {
      if (Status gc = c.Run("DELETE FROM sessions WHERE expires_ms <= $1", {std::to_string(now_ms)}); !gc.ok()) {
        return gc;
      }
      return c.Run("INSERT INTO sessions (hash, user_name, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
                   {auth::HashOf(s.id), user, std::to_string(now_ms), std::to_string(s.expires_ms)});
    });
    if (!st.ok()) return st;
    return s;
  }

  Status EndSession(std::string_view session_id) override {
    return Change([&](pg::Connection& c) {
      return c.Run("DELETE FROM sessions WHERE hash = $1", {auth::HashOf(session_id)});
    });
  }

  Result<std::optional<std::string>> BootstrapAdmin() override {
    auto state = db_.Query("SELECT (SELECT count(*) FROM users), bootstrapped FROM auth_state");
    if (!state.ok()) return state.status();
    if (state.value().Text(0, 0) != "0" || state.value().Text(0, 1) == "t") return std::optional<std::string>();
    std::string password = auth::RandomSecret(15);  // 120 bits, 20 characters
    auto hash = auth::HashPassword(password);
    if (!hash.ok()) return hash.status();
    bool created = false;
    const Status st = Change([&](pg::Connection& c) -> Status {
      // Nodes that start together race here: the row lock lets one of them create the account.
      auto claimed = c.Exec(
          "UPDATE auth_state SET bootstrapped = true WHERE NOT bootstrapped AND NOT EXISTS (SELECT 1 FROM users) "
          "RETURNING 1");
      if (!claimed.ok()) return claimed.status();
      if (claimed.value().size() == 0) return Status::Ok();
      created = true;
      return InsertUser(c, "admin", hash.value(), Role::kAdmin);
    });
    if (!st.ok()) return st;
    return created ? std::optional<std::string>(std::move(password)) : std::optional<std::string>();
  }

  Status Append(auth::AuditRecord r) override {
    if (r.ts_ms == 0) r.ts_ms = NowMs();
    auto rows = db_.Query("INSERT INTO audit (ts_ms, actor, address, action, detail) VALUES ($1, $2, $3, $4, $5)",
                          {std::to_string(r.ts_ms), r.actor, r.address, r.action, r.detail});
    return rows.ok() ? Status::Ok() : rows.status();
  }

  Result<std::vector<auth::AuditRecord>> ListAudit(int64_t before_id, size_t limit) override {
    auto rows = db_.Query(
        "SELECT id, ts_ms, actor, address, action, detail FROM audit WHERE ($1 = 0 OR id < $1) ORDER BY id DESC "
        "LIMIT $2",
        {std::to_string(before_id), std::to_string(limit)});
    if (!rows.ok()) return rows.status();
    std::vector<auth::AuditRecord> out;
    const pg::Rows& r = rows.value();
    for (int i = 0; i < r.size(); ++i) {
      out.push_back({pg::Int(r.Text(i, 0)), pg::Int(r.Text(i, 1)), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Text(i, 5)});
    }
    return out;
  }

 private:
  // Runs `body` and moves auth_state.version in one transaction, then rereads the credentials here.
  template <typename Body>
  Status Change(Body body) {
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      if (Status s = body(c); !s.ok()) return s;
      return c.Run(kBumpVersion);
    });
    if (!st.ok()) return st;
    return ReloadNow();
  }

  static Status InsertUser(pg::Connection& c, const std::string& name, const std::string& hash, Role role) {
    auto added = c.Exec(
        "INSERT INTO users (name, role, password_hash, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING "
        "RETURNING name",
        {name, std::string(auth::RoleName(role)), hash, std::to_string(NowMs())});
    if (!added.ok()) return added.status();
    if (added.value().size() == 0) return Status::InvalidArgument("a user named '" + name + "' exists");
    return Status::Ok();
  }

  // The live tokens and sessions, read in one transaction with the version they belong to.
  Status ReloadNow() {
    std::lock_guard lock(reload_mu_);
    auth::CredentialCache::Tokens tokens;
    auth::CredentialCache::Sessions sessions;
    int64_t version = 0;
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      if (Status s = c.Run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); !s.ok()) return s;
      auto v = c.Exec("SELECT version FROM auth_state");
      if (!v.ok()) return v.status();
      version = v.value().size() == 1 ? pg::Int(v.value().Text(0, 0)) : 0;
      auto t = c.Exec("SELECT hash, name, role, device FROM tokens WHERE revoked_ms IS NULL");
      if (!t.ok()) return t.status();
      for (int i = 0; i < t.value().size(); ++i) {
        if (auto role = auth::ParseRole(t.value().Text(i, 2))) {
          tokens.emplace(t.value().Text(i, 0), Principal{"token:" + t.value().Text(i, 1), *role, t.value().Text(i, 3)});
        }
      }
      auto s = c.Exec(
          "SELECT s.hash, s.user_name, u.role, s.expires_ms FROM sessions s JOIN users u ON u.name = s.user_name "
          "WHERE s.expires_ms > $1",
          {std::to_string(NowMs())});
      if (!s.ok()) return s.status();
      for (int i = 0; i < s.value().size(); ++i) {
        if (auto role = auth::ParseRole(s.value().Text(i, 2))) {
          sessions.emplace(s.value().Text(i, 0),
                           auth::CredentialCache::CachedSession{Principal{"user:" + s.value().Text(i, 1), *role, ""},
                                                                pg::Int(s.value().Text(i, 3))});
        }
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    cache_.Replace(std::move(tokens), std::move(sessions));
    loaded_version_ = version;
    return Status::Ok();
  }

  const auth::AuthOptions options_;
  Database db_;
  auth::CredentialCache cache_;
  auth::PasswordCheck password_check_;
  std::mutex reload_mu_;            // one reload at a time, so that an older snapshot never replaces a newer one
  std::atomic<int64_t> loaded_version_{-1};
};

}  // namespace

Result<std::unique_ptr<auth::AuthStore>> OpenPgAuthStore(const std::string& database_url,
                                                         const auth::AuthOptions& options,
                                                         int64_t statement_deadline_ms) {
  if (Status st = auth::InitCrypto(); !st.ok()) return st;
  auto store = std::make_unique<PgAuthStore>(database_url, options, statement_deadline_ms);
  // The credentials as they are now, when the database is there; else from the first Reload that reaches it.
  (void)store->Reload();
  return std::unique_ptr<auth::AuthStore>(std::move(store));
}

}  // namespace iotstream::cluster

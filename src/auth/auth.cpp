#include "auth/auth.h"

#include <sys/stat.h>

#include <filesystem>
#include <mutex>

#include <sodium.h>

#include "auth/credentials.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/sqlite.h"

namespace iotstream::auth {
namespace {

using store::Db;
using store::Stmt;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
                                 created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, role TEXT NOT NULL,
                                  device TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                                  created_ms INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS sessions(hash TEXT PRIMARY KEY, user TEXT NOT NULL, created_ms INTEGER NOT NULL,
                                    expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, actor TEXT NOT NULL,
                                 address TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

class AuthStoreImpl final : public AuthStore {
 public:
  explicit AuthStoreImpl(const AuthOptions& options) : options_(options) {}

  Status Init() {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    const std::string path = (std::filesystem::path(options_.data_dir) / "auth.db").string();
    if (Status st = db_.Open(path); !st.ok()) return st;
    chmod(path.c_str(), 0600);  // password and token hashes: for this user's eyes only
    if (Status st = db_.Exec("PRAGMA journal_mode=WAL"); !st.ok()) return st;
    const store::SqliteMigration migrations[] = {{1, "accounts", kSchema}};
    if (Status st = store::ApplyMigrations(db_, "auth", migrations); !st.ok()) return st;
    std::lock_guard lock(db_mu_);
    return ReloadLocked();
  }

  std::optional<Principal> AuthenticateToken(std::string_view token) const override {
    return cache_.AuthenticateToken(token);
  }

  std::optional<Principal> AuthenticateSession(std::string_view session_id, int64_t now_ms) const override {
    return cache_.AuthenticateSession(session_id, now_ms);
  }

  Status Reload() override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "PRAGMA data_version");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    const int64_t version = q.Int(0);
    if (version == data_version_) return Status::Ok();
    return ReloadLocked();
  }

  Result<std::string> CreateToken(const std::string& name, Role role, const std::string& device,
                                  const std::string& created_by) override {
    if (Status st = CheckTokenRequest(name, role, device); !st.ok()) return st;
    const std::string token = NewToken();
    std::lock_guard lock(db_mu_);
    Stmt used(db_.get(), "SELECT count(*) FROM tokens WHERE name = ? AND revoked_ms IS NULL");
    used.Bind(1, name);
    Result<bool> row = used.Step();
    if (!row.ok()) return row.status();
    if (used.Int(0) > 0) return Status::InvalidArgument("a token named '" + name + "' exists; revoke it first");
    Stmt ins(db_.get(),
             "INSERT INTO tokens(name, role, device, hash, prefix, created_ms, created_by) VALUES(?,?,?,?,?,?,?)");
    ins.Bind(1, name).Bind(2, RoleName(role)).Bind(3, device).Bind(4, HashOf(token));
    ins.Bind(5, TokenPrefix(token)).Bind(6, NowMs()).Bind(7, created_by);
    if (Status st = ins.Run(); !st.ok()) return st;
    if (Status st = ReloadLocked(); !st.ok()) return st;
    return token;
  }

  Result<std::vector<TokenInfo>> ListTokens() override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(),
           "SELECT id, name, role, device, prefix, created_ms, created_by FROM tokens WHERE revoked_ms IS NULL "
           "ORDER BY id");
    return store::CollectRows<TokenInfo>(q, [](const Stmt& r) {
      TokenInfo t;
      t.id = r.Int(0);
      t.name = r.Text(1);
      t.role = ParseRole(r.Text(2)).value_or(Role::kViewer);
      t.device = r.Text(3);
      t.prefix = r.Text(4);
      t.created_ms = r.Int(5);
      t.created_by = r.Text(6);
      return t;
    });
  }

  Status RevokeToken(const std::string& name_or_id) override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "UPDATE tokens SET revoked_ms = ? WHERE revoked_ms IS NULL AND (name = ? OR CAST(id AS TEXT) = ?)");
    q.Bind(1, NowMs()).Bind(2, name_or_id).Bind(3, name_or_id);
    if (Status st = q.Run(); !st.ok()) return st;
    if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no live token '" + name_or_id + "'");
    return ReloadLocked();
  }

  Status AddUser(const std::string& name, const std::string& password, Role role) override {
    if (Status st = CheckUserRequest(name, password, role); !st.ok()) return st;
    auto hash = HashPassword(password);  // slow: outside the lock
    if (!hash.ok()) return hash.status();
    std::lock_guard lock(db_mu_);
    return InsertUserLocked(name, hash.value(), role);
  }

  Status SetPassword(const std::string& name, const std::string& password) override {
    if (Status st = CheckPasswordText(password); !st.ok()) return st;
    auto hash = HashPassword(password);
    if (!hash.ok()) return hash.status();
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "UPDATE users SET password_hash = ? WHERE name = ?");
    q.Bind(1, hash.value()).Bind(2, name);
    if (Status st = q.Run(); !st.ok()) return st;
    if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no user '" + name + "'");
    return EndSessionsOfLocked(name);
  }

  Status RemoveUser(const std::string& name) override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "DELETE FROM users WHERE name = ?");
    q.Bind(1, name);
    if (Status st = q.Run(); !st.ok()) return st;
    if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no user '" + name + "'");
    return EndSessionsOfLocked(name);
  }

  Result<std::vector<UserInfo>> ListUsers() override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "SELECT name, role, created_ms FROM users ORDER BY name");
    return store::CollectRows<UserInfo>(q, [](const Stmt& r) {
      return UserInfo{r.Text(0), ParseRole(r.Text(1)).value_or(Role::kViewer), r.Int(2)};
    });
  }

  Result<std::optional<Principal>> CheckPassword(const std::string& name, const std::string& password) override {
    std::string hash;
    Role role = Role::kViewer;
    {
      std::lock_guard lock(db_mu_);
      Stmt q(db_.get(), "SELECT password_hash, role FROM users WHERE name = ?");
      q.Bind(1, name);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (row.value()) {
        hash = q.Text(0);
        role = ParseRole(q.Text(1)).value_or(Role::kViewer);
      }
    }
    return password_check_.Verify(name, role, hash, password);
  }

  Result<Session> CreateSession(const Principal& principal, int64_t now_ms) override {
    const std::string user = principal.name.rfind("user:", 0) == 0 ? principal.name.substr(5) : principal.name;
    Session s;
    s.id = NewSessionId();
    s.principal = principal;
    s.expires_ms = now_ms + options_.session_ttl_ms;
    std::lock_guard lock(db_mu_);
    Stmt gc(db_.get(), "DELETE FROM sessions WHERE expires_ms <= ?");
    gc.Bind(1, now_ms);
    if (Status st = gc.Run(); !st.ok()) return st;
    Stmt q(db_.get(), "INSERT INTO sessions(hash, user, created_ms, expires_ms) VALUES(?,?,?,?)");
    q.Bind(1, HashOf(s.id)).Bind(2, user).Bind(3, now_ms).Bind(4, s.expires_ms);
    if (Status st = q.Run(); !st.ok()) return st;
    if (Status st = ReloadLocked(); !st.ok()) return st;
    return s;
  }

  Status EndSession(std::string_view session_id) override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "DELETE FROM sessions WHERE hash = ?");
    q.Bind(1, HashOf(session_id));
    if (Status st = q.Run(); !st.ok()) return st;
    return ReloadLocked();
  }

  Result<std::optional<std::string>> BootstrapAdmin() override {
    {
      std::lock_guard lock(db_mu_);
      Stmt q(db_.get(), "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM meta WHERE key = 'bootstrapped')");
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (q.Int(0) > 0 || q.Int(1) > 0) return std::optional<std::string>();
    }
    std::string password = RandomSecret(15);  // 120 bits, 20 characters
    auto hash = HashPassword(password);
    if (!hash.ok()) return hash.status();
    std::lock_guard lock(db_mu_);
    if (Status st = db_.Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    Status st = InsertUserLocked("admin", hash.value(), Role::kAdmin);
    if (st.ok()) st = db_.Exec("INSERT INTO meta(key, value) VALUES('bootstrapped', '1')");
    if (!st.ok()) {
      (void)db_.Exec("ROLLBACK");
      return st;
    }
    if (Status c = db_.Exec("COMMIT"); !c.ok()) return c;
    return std::optional<std::string>(std::move(password));
  }

  Status Append(AuditRecord r) override {
    if (r.ts_ms == 0) r.ts_ms = NowMs();
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(), "INSERT INTO audit(ts_ms, actor, address, action, detail) VALUES(?,?,?,?,?)");
    q.Bind(1, r.ts_ms).Bind(2, r.actor).Bind(3, r.address).Bind(4, r.action).Bind(5, r.detail);
    return q.Run();
  }

  Result<std::vector<AuditRecord>> ListAudit(int64_t before_id, size_t limit) override {
    std::lock_guard lock(db_mu_);
    Stmt q(db_.get(),
           "SELECT id, ts_ms, actor, address, action, detail FROM audit WHERE (? = 0 OR id < ?) ORDER BY id DESC "
           "LIMIT ?");
    q.Bind(1, before_id).Bind(2, before_id).Bind(3, static_cast<int64_t>(limit));
    return store::CollectRows<AuditRecord>(q, [](const Stmt& r) {
      return AuditRecord{r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5)};
    });
  }

 private:
  Status InsertUserLocked(const std::string& name, const std::string& hash, Role role) {
    Stmt used(db_.get(), "SELECT count(*) FROM users WHERE name = ?");
    used.Bind(1, name);
    Result<bool> row = used.Step();
    if (!row.ok()) return row.status();
    if (used.Int(0) > 0) return Status::InvalidArgument("a user named '" + name + "' exists");
    Stmt q(db_.get(), "INSERT INTO users(name, role, password_hash, created_ms) VALUES(?,?,?,?)");
    q.Bind(1, name).Bind(2, RoleName(role)).Bind(3, hash).Bind(4, NowMs());
    return q.Run();
  }

  Status EndSessionsOfLocked(const std::string& user) {
    Stmt q(db_.get(), "DELETE FROM sessions WHERE user = ?");
    q.Bind(1, user);
    if (Status st = q.Run(); !st.ok()) return st;
    return ReloadLocked();
  }

  // Reads the live tokens and sessions into a new snapshot. REQUIRES: db_mu_ held.
  Status ReloadLocked() {
    CredentialCache::Tokens live_tokens;
    CredentialCache::Sessions live_sessions;
    Stmt version(db_.get(), "PRAGMA data_version");
    Result<bool> v = version.Step();
    if (!v.ok()) return v.status();
    const int64_t data_version = version.Int(0);
    Stmt tokens(db_.get(), "SELECT hash, name, role, device FROM tokens WHERE revoked_ms IS NULL");
    Status st = store::ForEachRow(tokens, [&](const Stmt& r) {
      auto role = ParseRole(r.Text(2));
      if (role) live_tokens.emplace(r.Text(0), Principal{"token:" + r.Text(1), *role, r.Text(3)});
    });
    if (!st.ok()) return st;
    Stmt sessions(db_.get(),
                  "SELECT s.hash, s.user, u.role, s.expires_ms FROM sessions s JOIN users u ON u.name = s.user "
                  "WHERE s.expires_ms > ?");
    sessions.Bind(1, NowMs());
    st = store::ForEachRow(sessions, [&](const Stmt& r) {
      auto role = ParseRole(r.Text(2));
      if (role) live_sessions.emplace(r.Text(0), CredentialCache::CachedSession{Principal{"user:" + r.Text(1), *role, ""}, r.Int(3)});
    });
    if (!st.ok()) return st;
    data_version_ = data_version;
    cache_.Replace(std::move(live_tokens), std::move(live_sessions));
    return Status::Ok();
  }

  const AuthOptions options_;
  std::mutex db_mu_;  // serialises SQLite work; never taken by the lookups
  Db db_;             // guarded by db_mu_
  int64_t data_version_ = -1;  // guarded by db_mu_
  CredentialCache cache_;
  PasswordCheck password_check_;
};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kViewer: return "viewer";
    case Role::kCamera: return "camera";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "viewer") return Role::kViewer;
  if (name == "camera") return Role::kCamera;
  return std::nullopt;
}

std::string RandomSecret(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  const size_t len = sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw.data(), raw.size());
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

Result<std::unique_ptr<AuthStore>> AuthStore::Open(const AuthOptions& options) {
  if (Status st = InitCrypto(); !st.ok()) return st;
  auto store = std::make_unique<AuthStoreImpl>(options);
  if (Status st = store->Init(); !st.ok()) return st;
  return std::unique_ptr<AuthStore>(std::move(store));
}

}  // namespace iotstream::auth

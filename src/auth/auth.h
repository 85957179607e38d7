// Access control's decisions: who a credential belongs to and what role it has. The api enforces them.
//
//   AuthStore   accounts (passwords hashed with libsodium's crypto_pwhash), API tokens (random, 256 bits, stored as
//               BLAKE2b hashes), dashboard sessions (random ids, stored hashed) and the append-only audit log, in
//               <data dir>/auth.db (SQLite, WAL). The CLI (`iotstream token|user`) and a running server may open
//               the same folder at once: each sees the other's changes after Reload().
//   FailureLimiter  (auth/limiter.h) slows down addresses that keep presenting wrong credentials.
//
// Thread-safety: AuthStore is thread-safe. Its lookups (AuthenticateToken, AuthenticateSession) read an in-memory
// snapshot under a short lock and never touch the disk, so they may run on an I/O thread. Every other method runs
// SQLite statements (and CheckPassword/AddUser/SetPassword a deliberately slow, memory-hard hash, ~0.1 s and 64 MiB):
// call them off the I/O threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iotstream::auth {

// admin: everything. viewer: live view, footage, events, devices and recognition read-only. camera: ingest only,
// optionally for one device.
enum class Role { kAdmin, kViewer, kCamera };

// "admin", "viewer", "camera".
std::string_view RoleName(Role role);
// The role named `name`; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);

// Who made a request, once a credential checked out.
struct Principal {
  std::string name;    // for logs and the audit log: "user:alice", "token:phone"
  Role role = Role::kViewer;
  std::string device;  // a camera token bound to one device id; empty: any device
};

struct TokenInfo {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  std::string device;      // empty: not bound
  std::string prefix;      // the token's first characters, to tell tokens apart (not enough to guess it)
  int64_t created_ms = 0;
  std::string created_by;  // the principal (or "cli") that created it
};

struct UserInfo {
  std::string name;
  Role role = Role::kViewer;  // admin or viewer
  int64_t created_ms = 0;
};

struct AuditRecord {
  int64_t id = 0;          // assigned by Append
  int64_t ts_ms = 0;
  std::string actor;       // a Principal's name, "cli", or what a failed login claimed to be
  std::string address;     // the peer's IP; "local" for the CLI
  std::string action;      // e.g. "login", "login_failed", "token_create", "device_delete"
  std::string detail;      // free text (never a secret)
};

// A session created by a successful login.
struct Session {
  std::string id;          // the cookie's value: shown to the client once, stored only hashed
  Principal principal;
  int64_t expires_ms = 0;
};

struct AuthOptions {
  std::string data_dir = "./data";                 // auth.db lives here (created with the folder if missing)
  int64_t session_ttl_ms = 7LL * 24 * 3600 * 1000;  // a login lasts this long
};

class AuthStore {
 public:
  // Opens (or creates) <data_dir>/auth.db. IOError when the folder or the database cannot be opened.
  static Result<std::unique_ptr<AuthStore>> Open(const AuthOptions& options);
  virtual ~AuthStore() = default;
  AuthStore(const AuthStore&) = delete;
  AuthStore& operator=(const AuthStore&) = delete;

  // --- lookups: memory only, safe on an I/O thread ---
  // The principal of API token `token`; nullopt when it is unknown or revoked. Compares in constant time.
  virtual std::optional<Principal> AuthenticateToken(std::string_view token) const = 0;
  // The principal of the session whose id is `session_id` at `now_ms`; nullopt when unknown, ended or expired.
  virtual std::optional<Principal> AuthenticateSession(std::string_view session_id, int64_t now_ms) const = 0;

  // --- everything below touches the disk: not on an I/O thread ---
  // Rereads tokens, users and sessions when another process (the CLI) changed auth.db since the last read; a
  // no-op otherwise. IOError from SQLite (the previous snapshot stays).
  virtual Status Reload() = 0;

  // A new token: returns its secret, which is stored only hashed and cannot be shown again. InvalidArgument for an
  // empty or over-long name (1-64 characters), a name in use by a live token, or a device id given to a role
  // other than camera.
  virtual Result<std::string> CreateToken(const std::string& name, Role role, const std::string& device,
                                          const std::string& created_by) = 0;
  virtual Result<std::vector<TokenInfo>> ListTokens() = 0;
  // Revokes the live token named `name_or_id` (its name, or its numeric id). NotFound when none is.
  virtual Status RevokeToken(const std::string& name_or_id) = 0;

  // InvalidArgument for a name outside 1-64 of [A-Za-z0-9._@-], a password under 8 or over 256 bytes, the camera
  // role, or a name in use.
  virtual Status AddUser(const std::string& name, const std::string& password, Role role) = 0;
  // Sets a new password and ends the user's sessions. NotFound, or InvalidArgument for the password.
  virtual Status SetPassword(const std::string& name, const std::string& password) = 0;
  // Removes the user and ends their sessions. NotFound when there is none.
  virtual Status RemoveUser(const std::string& name) = 0;
  virtual Result<std::vector<UserInfo>> ListUsers() = 0;
  // The user's principal when `password` is theirs; nullopt otherwise (an unknown user costs the same time as a
  // wrong password). IOError from SQLite.
  virtual Result<std::optional<Principal>> CheckPassword(const std::string& name, const std::string& password) = 0;

  // Starts a session for `principal` (a user) at `now_ms`, until now + session_ttl_ms.
  virtual Result<Session> CreateSession(const Principal& principal, int64_t now_ms) = 0;
  // Ends the session with id `session_id`; OK when there was none.
  virtual Status EndSession(std::string_view session_id) = 0;

  // Creates user "admin" with a random password, once in the life of this auth.db, when it holds no user: returns
  // that password (to be shown once, never stored in clear), or nullopt when nothing was created.
  virtual Result<std::optional<std::string>> BootstrapAdmin() = 0;

  // Appends to the audit log (append-only: the table refuses UPDATE and DELETE). Sets ts_ms when it is 0.
  virtual Status Append(AuditRecord record) = 0;
  // Newest first: at most `limit` records with id < `before_id` (0: from the newest).
  virtual Result<std::vector<AuditRecord>> ListAudit(int64_t before_id, size_t limit) = 0;

 protected:
  AuthStore() = default;
};

// `bytes` random bytes (libsodium's randombytes) as URL-safe base64 without padding.
std::string RandomSecret(size_t bytes);

}  // namespace iotstream::auth

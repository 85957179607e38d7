// What every AuthStore shares whatever database keeps its rows (auth.db here, PostgreSQL in a cluster): the rules a
// name or password must meet, how secrets are made and hashed, and the in-memory snapshot the lookups read.
//
// Thread-safety: the functions are thread-safe. CredentialCache is thread-safe; its lookups take a short shared lock
// and never block on I/O. PasswordCheck is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/auth.h"

namespace iotstream::auth {

// Initialises libsodium (idempotent, thread-safe): before any other function here. Internal when it cannot.
Status InitCrypto();
// A new API token: "iot_" and 256 random bits.
std::string NewToken();
// The characters of a token shown to tell it apart (not enough to guess it).
std::string_view TokenPrefix(std::string_view token);
// A new session id (256 random bits).
std::string NewSessionId();
// BLAKE2b-256 of `secret`, hex: what tokens and sessions are stored and looked up by.
std::string HashOf(std::string_view secret);

// InvalidArgument, saying why, unless a token named `name` of `role` bound to `device` may be made.
Status CheckTokenRequest(const std::string& name, Role role, const std::string& device);
// InvalidArgument, saying why, unless `name` may name a dashboard account of `role` with `password`.
Status CheckUserRequest(const std::string& name, const std::string& password, Role role);
// InvalidArgument unless `password` is 8 to 256 bytes.
Status CheckPasswordText(const std::string& password);
// crypto_pwhash_str at libsodium's "interactive" cost (Argon2id, 64 MiB; ~0.1 s): slow on purpose.
Result<std::string> HashPassword(const std::string& password);

// Checks a password against a stored hash; a user that does not exist costs the same time as a wrong password.
class PasswordCheck {
 public:
  // The principal of user `name` (of `role`) when `password` matches `stored_hash`; nullopt otherwise, also when
  // `stored_hash` is empty (no such user).
  std::optional<Principal> Verify(const std::string& name, Role role, const std::string& stored_hash,
                                  const std::string& password);

 private:
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // written once under dummy_once_
};

// The live tokens and sessions, by hash, as last loaded; replaced whole, never changed in place.
class CredentialCache {
 public:
  struct CachedSession {
    Principal principal;
    int64_t expires_ms = 0;
  };
  using Tokens = std::unordered_map<std::string, Principal>;         // by hash
  using Sessions = std::unordered_map<std::string, CachedSession>;  // by hash

  void Replace(Tokens tokens, Sessions sessions);
  std::optional<Principal> AuthenticateToken(std::string_view token) const;
  std::optional<Principal> AuthenticateSession(std::string_view session_id, int64_t now_ms) const;

 private:
  struct Snapshot {
    Tokens tokens;
    Sessions sessions;
  };
  std::shared_ptr<const Snapshot> snapshot() const;

  mutable std::shared_mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();  // guarded by mu_
};

}  // namespace iotstream::auth

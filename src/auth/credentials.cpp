#include "auth/credentials.h"

#include <sodium.h>

namespace iotstream::auth {
namespace {

constexpr size_t kTokenBytes = 32;  // 256 bits
constexpr size_t kSessionBytes = 32;
constexpr size_t kPrefixChars = 8;  // "iot_" and 4 characters of the secret
constexpr const char* kTokenPrefix = "iot_";

bool ValidUserName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status InitCrypto() {
  return sodium_init() < 0 ? Status::Internal("libsodium could not initialise") : Status::Ok();
}

std::string NewToken() { return kTokenPrefix + RandomSecret(kTokenBytes); }

std::string_view TokenPrefix(std::string_view token) { return token.substr(0, kPrefixChars); }

std::string NewSessionId() { return RandomSecret(kSessionBytes); }

std::string HashOf(std::string_view secret) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nullptr, 0);
  char hex[sizeof out * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::string(hex, sizeof out * 2);
}

Status CheckTokenRequest(const std::string& name, Role role, const std::string& device) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("a token's name must be 1-64 characters");
  if (!device.empty() && role != Role::kCamera) {
    return Status::InvalidArgument("only a camera token can be bound to a device");
  }
  if (device.size() > 64) return Status::InvalidArgument("a device id has at most 64 characters");
  return Status::Ok();
}

Status CheckUserRequest(const std::string& name, const std::string& password, Role role) {
  if (!ValidUserName(name)) return Status::InvalidArgument("a user name is 1-64 characters of A-Z a-z 0-9 . _ - @");
  if (role == Role::kCamera) return Status::InvalidArgument("a dashboard account is an admin or a viewer");
  return CheckPasswordText(password);
}

Status CheckPasswordText(const std::string& password) {
  if (password.size() < 8 || password.size() > 256) {
    return Status::InvalidArgument("a password must be 8 to 256 bytes long");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::Internal("password hashing ran out of memory");
  }
  return std::string(out);
}

std::optional<Principal> PasswordCheck::Verify(const std::string& name, Role role, const std::string& stored_hash,
                                               const std::string& password) {
  const bool known = !stored_hash.empty();
  const std::string* hash = &stored_hash;
  if (!known) {
    // The same work as for a real user, so that timing does not tell which names exist.
    std::call_once(dummy_once_, [this] {
      auto h = HashPassword(RandomSecret(16));
      if (h.ok()) dummy_hash_ = std::move(h).value();
    });
    hash = &dummy_hash_;
  }
  const bool match = crypto_pwhash_str_verify(hash->c_str(), password.data(), password.size()) == 0;
  if (!known || !match) return std::nullopt;
  return Principal{"user:" + name, role, ""};
}

void CredentialCache::Replace(Tokens tokens, Sessions sessions) {
  auto snap = std::make_shared<Snapshot>(Snapshot{std::move(tokens), std::move(sessions)});
  std::unique_lock lock(mu_);
  snapshot_ = std::move(snap);
}

std::shared_ptr<const CredentialCache::Snapshot> CredentialCache::snapshot() const {
  std::shared_lock lock(mu_);
  return snapshot_;
}

std::optional<Principal> CredentialCache::AuthenticateToken(std::string_view token) const {
  if (token.size() > 256) return std::nullopt;
  const std::string hash = HashOf(token);
  const auto snap = snapshot();
  const auto it = snap->tokens.find(hash);
  // The lookup is by hash, so its timing tells nothing about the secret; the compare is constant-time anyway.
  if (it == snap->tokens.end() || sodium_memcmp(it->first.data(), hash.data(), hash.size()) != 0) return std::nullopt;
  return it->second;
}

std::optional<Principal> CredentialCache::AuthenticateSession(std::string_view session_id, int64_t now_ms) const {
  if (session_id.size() > 256) return std::nullopt;
  const std::string hash = HashOf(session_id);
  const auto snap = snapshot();
  const auto it = snap->sessions.find(hash);
  if (it == snap->sessions.end() || sodium_memcmp(it->first.data(), hash.data(), hash.size()) != 0 ||
      it->second.expires_ms <= now_ms) {
    return std::nullopt;
  }
  return it->second.principal;
}

}  // namespace iotstream::auth

// TlsContext (a certificate and key loaded with Asio's OpenSSL context) and the self-signed certificate of
// --tls-self-signed (made with OpenSSL's C API: EC P-256, X.509 v3, subjectAltName).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "http/tls_context.h"

namespace iotstream::http {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;

constexpr long kSelfSignedDays = 730;

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// OpenSSL's reason for the last failure on this thread, and an empty error queue after it.
std::string OpenSslError() {
  const unsigned long e = ERR_peek_last_error();
  std::string reason = e != 0 ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error"
                              : "unknown error";
  ERR_clear_error();
  return reason;
}

Status Readable(const std::string& what, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::InvalidArgument(what + " '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  return Status::Ok();
}

std::string Sha256Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

// Whether `host` can go into a certificate as a DNS name (letters, digits, '-' and '.', as a host name).
bool IsDnsName(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') return false;
  return host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
         std::string::npos;
}

// Whether the PEM certificate at `path` has passed its notAfter; false when it cannot be read (Load then says why).
bool Expired(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();
  return cert && X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::Internal("certificate extension " + value + ": " + OpenSslError());
  }
  return Status::Ok();
}

Result<X509Ptr> MakeCertificate(EVP_PKEY* key, const std::string& host_name) {
  X509Ptr cert(X509_new());
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1) return Status::Internal("certificate: " + OpenSslError());
  serial[0] &= 0x7f;  // a positive serial number
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = IsDnsName(host_name) ? host_name : "localhost";
  if (!bn || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||  // an hour back: clocks differ
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kSelfSignedDays * 24 * 3600) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("iotstream"), -1,
                                 -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return Status::Internal("certificate: " + OpenSslError());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (IsDnsName(host_name) && host_name != "localhost") san += ",DNS:" + host_name;
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
                                   {NID_key_usage, "critical,digitalSignature"},
                                   {NID_ext_key_usage, "serverAuth"},
                                   {NID_subject_key_identifier, "hash"},
                                   {NID_subject_alt_name, san}}) {
    if (Status s = AddExtension(cert.get(), &ctx, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return Status::Internal("signing: " + OpenSslError());
  return cert;
}

// Writes `data` to `path` whole: a temporary file with `mode` (whatever the umask), synced, then renamed.
Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t done = 0; ok && done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + why);
  }
  return Status::Ok();
}

template <class Write>
Result<std::string> Pem(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return Status::Internal("PEM: " + OpenSslError());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

Result<std::shared_ptr<const TlsContext>> TlsContext::Load(const std::string& cert_file, const std::string& key_file) {
  if (Status s = Readable("certificate file", cert_file); !s.ok()) return s;
  if (Status s = Readable("key file", key_file); !s.ok()) return s;
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                      ssl::context::single_dh_use);
  SSL_CTX* native = context.native_handle();
  // Renegotiation buys a client nothing here and lets it make the server redo handshakes at will.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return Status::Internal("TLS 1.2 minimum: " + OpenSslError());
  }
  boost::system::error_code ec;
  context.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate file '" + cert_file + "': not a PEM certificate (" + ec.message() + ")");
  }
  context.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    ERR_clear_error();
    return Status::InvalidArgument("key file '" + key_file + "': not a PEM private key, or not the key of '" +
                                   cert_file + "' (" + ec.message() + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("key file '" + key_file + "' is not the key of '" + cert_file + "'");
  }
  std::string fingerprint = Sha256Fingerprint(SSL_CTX_get0_certificate(native));
  return std::shared_ptr<const TlsContext>(std::make_shared<TlsContextImpl>(std::move(context), std::move(fingerprint)));
}

Result<SelfSignedFiles> EnsureSelfSignedCertificate(const std::string& dir, const std::string& host_name) {
  SelfSignedFiles files{(fs::path(dir) / "tls-cert.pem").string(), (fs::path(dir) / "tls-key.pem").string(), false};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  if (fs::exists(files.cert_file) && fs::exists(files.key_file) && !Expired(files.cert_file)) return files;

  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("EC P-256 key: " + OpenSslError());
  auto cert = MakeCertificate(key.get(), host_name);
  if (!cert.ok()) return cert.status();
  auto key_pem = Pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!key_pem.ok()) return key_pem.status();
  auto cert_pem = Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.value().get()); });
  if (!cert_pem.ok()) return cert_pem.status();
  if (Status s = WriteFileAtomically(files.key_file, key_pem.value(), 0600); !s.ok()) return s;
  if (Status s = WriteFileAtomically(files.cert_file, cert_pem.value(), 0644); !s.ok()) return s;
  files.created = true;
  return files;
}

}  // namespace iotstream::http

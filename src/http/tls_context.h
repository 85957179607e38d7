// Private to http/: the OpenSSL context behind a TlsContext, for the server's TLS streams.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>

#include "http/http.h"

namespace iotstream::http {

class TlsContextImpl final : public TlsContext {
 public:
  TlsContextImpl(boost::asio::ssl::context context, std::string fingerprint)
      : context_(std::move(context)), fingerprint_(std::move(fingerprint)) {}

  const std::string& fingerprint() const override { return fingerprint_; }
  // What each new connection's TLS stream is made from. Nothing changes it after Load: OpenSSL makes sessions
  // from one SSL_CTX on any number of threads.
  boost::asio::ssl::context& context() const { return context_; }

 private:
  mutable boost::asio::ssl::context context_;
  const std::string fingerprint_;
};

}  // namespace iotstream::http

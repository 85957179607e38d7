// An advertise URL taken apart, for HAProxy's server lines. Private to src/cluster.
#pragma once

#include <string>
#include <string_view>

#include "cluster/cluster.h"

namespace iotstream::cluster {

struct Endpoint {
  bool tls = false;
  std::string host;  // a name, an IPv4 address or a bracketed IPv6 address
  int port = 0;      // the URL's, else 80 (http) or 443 (https)
};

// The parts of an http(s)://host[:port][/] URL; InvalidArgument (naming the URL and what is wrong) otherwise.
Result<Endpoint> ParseAdvertiseUrl(std::string_view url);

}  // namespace iotstream::cluster

// Raw TCP to a server under test, for clients no HTTP library would be: half-sent requests, idle sockets, floods.
// Blocking calls with bounded waits; each function is independent and thread-safe on distinct descriptors.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace iotstream::testing {

// A connected socket to 127.0.0.1:port (the caller closes it); -1 when it cannot connect.
int ConnectTcp(unsigned short port);
// The same to `host`, an IPv4 address (a cluster's nodes listen on 127.0.0.2, 127.0.0.3, ...).
int ConnectTcp(unsigned short port, const std::string& host);

// Sends all of `s`; false when the connection fails first.
bool SendAll(int fd, const std::string& s);

// Reads until `fd` holds `until` or closes, or `within` passes; what was read.
std::string ReadUntil(int fd, const std::string& until, std::chrono::milliseconds within);

// True when the server closed `fd` (EOF or reset) within `within`; what it sent first is read away, and appended
// to `received` when given.
bool ClosedByServer(int fd, std::chrono::milliseconds within, std::string* received = nullptr);

// The value of the unlabelled series `name` in a Prometheus text page; 0 when absent.
uint64_t MetricValue(const std::string& metrics, const std::string& name);

}  // namespace iotstream::testing

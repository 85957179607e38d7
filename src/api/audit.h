// Private to api/: how handlers write the audit log (auth::AuthStore::Append) without blocking an I/O thread.
#pragma once

#include <string>

#include "auth/auth.h"
#include "core/metrics.h"
#include "core/work_pool.h"
#include "http/http.h"

namespace iotstream::api {

// Thread-safe. Records are appended on `pool` (the auth pool); one that finds its queue full is dropped, counted
// (audit_dropped_total) and logged with what it would have said. Lifetime: `store` and `pool` outlive it.
class AuditTrail {
 public:
  AuditTrail(auth::AuthStore& store, WorkPool& pool, Metrics& metrics);
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;

  struct Who {
    std::string actor;    // the request's principal, or "anonymous" (--auth off)
    std::string address;  // the peer's IP
  };
  static Who Of(const http::Request& req);

  // Queues the record; never blocks.
  void Record(const Who& who, std::string action, std::string detail);
  // Appends now. REQUIRES: not on an I/O thread (for work already on the pool).
  void RecordNow(const Who& who, std::string action, std::string detail);

 private:
  auth::AuthStore& store_;
  WorkPool& pool_;
  Counter& dropped_;
  Counter& errors_;
};

}  // namespace iotstream::api

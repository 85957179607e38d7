#include "api/audit.h"

#include "core/log.h"

namespace iotstream::api {

AuditTrail::AuditTrail(auth::AuthStore& store, WorkPool& pool, Metrics& metrics)
    : store_(store),
      pool_(pool),
      dropped_(metrics.counter("audit_dropped_total", "audit records dropped: the auth pool's queue was full")),
      errors_(metrics.counter("audit_write_errors_total", "audit records SQLite failed to write")) {}

AuditTrail::Who AuditTrail::Of(const http::Request& req) {
  return Who{req.principal.empty() ? "anonymous" : req.principal, req.remote_address};
}

void AuditTrail::Record(const Who& who, std::string action, std::string detail) {
  auto task = [this, who, action, detail]() mutable { RecordNow(who, std::move(action), std::move(detail)); };
  if (!pool_.Submit(std::move(task))) {
    dropped_.Add();
    IOT_LOG(kWarn) << "audit: queue full, dropped: " << who.actor << " from " << who.address << ": " << action << ' '
                   << detail;
  }
}

void AuditTrail::RecordNow(const Who& who, std::string action, std::string detail) {
  auth::AuditRecord r;
  r.actor = who.actor;
  r.address = who.address;
  r.action = std::move(action);
  r.detail = std::move(detail);
  if (Status st = store_.Append(std::move(r)); !st.ok()) {
    errors_.Add();
    IOT_LOG(kError) << "audit: " << st.ToString();
  }
}

}  // namespace iotstream::api

// The state a cluster's nodes share in PostgreSQL, and how each node hears of its changes.
//
//   OpenPgAuthStore auth::AuthStore (accounts, tokens, sessions, the audit log) on PostgreSQL.
//   OpenPgRecords  store::Records (the gallery and the event log) on PostgreSQL: every node reads and writes the same
//                  people, faces, negatives and events; thumbnails are kept in the rows, so any node serves them.
//                  Each change to the gallery and each event logged is announced with NOTIFY in its transaction.
//   ChangeListener one connection LISTENing to those announcements on a thread of its own, so that a node reloads its
//                  in-memory gallery when another node enrols someone and pushes other nodes' events to its viewers.
//
// A node never stops working because the database is away: the records answer Unavailable (or Timeout) within their
// statement deadline and connect again on the next call; the listener reconnects every second and, once back, says
// so (on_connected), because NOTIFYs sent meanwhile are lost to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth/auth.h"
#include "core/metrics.h"
#include "core/status.h"
#include "store/records.h"

namespace iotstream::cluster {

// The NOTIFY channels: the gallery's payload is the node id that changed it; an event's is "<node id> <event id>".
inline constexpr const char* kGalleryChannel = "iotstream_gallery";
inline constexpr const char* kEventsChannel = "iotstream_events";

// Records on `database_url` for node `node_id`. Connects lazily: the first call (and the first after the connection
// was lost) connects within 2 s and brings the schema up to ClusterMigrations, so a node may start before its
// database. Every method then behaves as store::Records says, with these errors added: Unavailable or Timeout when
// the database cannot be reached or does not answer within `statement_deadline_ms`; Internal with PostgreSQL's message
// for a statement that fails. Thread-safe: one mutex serialises its one connection.
std::unique_ptr<store::Records> OpenPgRecords(const std::string& database_url, const std::string& node_id,
                                              int64_t statement_deadline_ms = 2'000);

// Accounts, API tokens, dashboard sessions and the audit log on `database_url`, shared by every node: a token made
// or a login on one node is honoured by all. Lookups read an in-memory snapshot as auth::AuthStore says; a change
// made through this object is in its snapshot when the call returns, one made on another node after this node's next
// Reload() (app calls it once a second), which costs one small query when nothing changed. Connects lazily as
// OpenPgRecords does; a node whose database is away keeps honouring the credentials it last read. Errors as
// AuthStore's, plus Unavailable or Timeout while the database cannot be reached. Internal when libsodium fails.
Result<std::unique_ptr<auth::AuthStore>> OpenPgAuthStore(const std::string& database_url,
                                                         const auth::AuthOptions& options,
                                                         int64_t statement_deadline_ms = 2'000);

// What a ChangeListener calls, on its own thread, one call at a time. Each may block (they read the database).
struct ChangeCallbacks {
  std::function<void()> on_connected;                  // (re)connected: changes may have been missed
  std::function<void()> gallery_changed;               // a node (this one included) changed the gallery
  std::function<void(int64_t event_id)> event_logged;  // another node logged this event
};

// Listens on `database_url` for the nodes' announcements. This node's own events are skipped (it published them
// already), its own gallery changes are not: a reload that was reading while this node applied a change of its own
// could otherwise overwrite it, and the reload after its NOTIFY sets that right. Notifications that arrive together
// are taken together: one gallery_changed for a burst of enrolments.
// Counted in metrics: cluster_notifications_total, cluster_listener_reconnects_total.
// Thread-safety: the callbacks run on the listener's thread. Lifetime: `metrics` and what the callbacks use outlive
// the listener; its destructor stops the thread within a quarter of a second (2 s while connecting; a callback
// running finishes first).
class ChangeListener {
 public:
  ChangeListener(std::string database_url, std::string node_id, ChangeCallbacks callbacks, Metrics& metrics);
  ~ChangeListener();
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotstream::cluster

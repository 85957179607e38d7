// PgOutbox: the webhooks and their outbox (store::Outbox) in the cluster's PostgreSQL, shared by the
// WebhookPublisher of every node, so that each (webhook, event) is delivered once cluster-wide and any node may
// deliver it. Tables `webhooks`, `webhook_outbox` and `webhook_cursor` (migration 4 of ClusterMigrations, applied
// by OpenPgOutbox when missing).
//
// How the nodes stay out of each other's way:
// - Fan-out. Enqueue holds the cursor row (SELECT ... FOR UPDATE) for its transaction, so the fan-outs of the nodes
//   take turns. A row once added stays (a delivered or given-up one as a "done" row) for keep_done_ms, so that the
//   same (webhook, event) added again by a slower node, or one reading the log again, is recognised and skipped.
//   Past that, the floor (the newest event id among rows added before keep_done_ms) refuses what is that old. The
//   floor, not the cursor, is the limit because event ids need not commit in order: an event committed late below
//   the cursor (logged on a node whose transaction took longer) is still fanned out when its node publishes it.
// - Delivery. A webhook is delivered by one node at a time: Heads claims each webhook it returns (its
//   `claimed_by`/`claimed_until` lease, taken with FOR NO KEY UPDATE SKIP LOCKED so that two nodes never both take
//   one) and returns only webhooks whose oldest row is due (next_attempt_ms at or before this node's clock) and whose
//   claim is free, lapsed, or this node's own. A webhook's rows therefore go in event id order from one node; the
//   next node takes over once the claim has lapsed (the claimer died) or was released (its PgOutbox was destroyed).
//   Delivered, Failed and GiveUp take effect only while this node holds the claim (lapsed but not taken by another
//   counts), and renew it; otherwise they change nothing and return Conflict (the new claimer sends those rows
//   again: at least once), or OK when the webhook was deleted meanwhile (its rows went with it). They do not
//   release the claim: a run's deliveries are noted after its failed attempt, and must still count.
//
// Exactly once, then, in normal operation: when every claimer notes each outcome within its lease (a delivery
// attempt is bounded by the publisher's request timeout, and a shared outbox's publisher notes its deliveries at
// least every second), and no event commits later than keep_done_ms after a higher id was fanned out. A node that
// dies between a receiver's 2xx and its commit leaves that row to another node after the lease: at least once.
//
// Thread-safety: thread-safe; one mutex serialises the object's one connection, which is opened again (once per
// call) after the database was lost. Every method blocks on the database (connect within 2 s, each statement 5 s):
// call it from a notify thread, never an HTTP I/O thread. Errors: Unavailable or Timeout while the database cannot
// be reached (the caller tries again later), Internal for a statement PostgreSQL refuses, Conflict as said above,
// and the Outbox contract's NotFound and InvalidArgument.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "store/outbox.h"

namespace iotstream::cluster {

struct PgOutboxOptions {
  std::string database_url;  // REQUIRES: CheckDatabaseUrl is OK
  std::string node_id;       // this node's, as in the nodes table; REQUIRES: unique among the nodes
  // The cursor of a database that has none yet: no history. Negative: the newest event id in the shared event log
  // when the cursor is made.
  int64_t first_cursor = 0;
  // How long a claim holds without news of its node. REQUIRES: longer than one delivery attempt plus a second.
  int64_t lease_ms = 30'000;
  // How long a delivered or given-up row is kept to recognise its (webhook, event) when it comes again.
  int64_t keep_done_ms = 600'000;
};

// Connects, applies ClusterMigrations where missing, and creates the cursor (at first_cursor) unless the database
// has one. A database that cannot be reached yet is no error: the first call that reaches it does this (until then
// calls answer Unavailable or Timeout). Internal when a migration fails.
// The outbox's destructor releases this node's claims (best effort: a node that dies leaves them to lapse).
Result<std::unique_ptr<store::Outbox>> OpenPgOutbox(const PgOutboxOptions& options);

}  // namespace iotstream::cluster

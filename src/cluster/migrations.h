// The migration runner on an open connection (ApplyMigrations opens its own). Private to src/cluster.
#pragma once

#include <span>

#include "cluster/cluster.h"
#include "cluster/pg.h"

namespace iotstream::cluster {

// How long one migration statement may take: it may wait on the lock while another node migrates, and an ALTER of
// a big table takes its time. REQUIRES: set on the connection before Migrate.
inline constexpr int64_t kMigrationDeadlineMs = 60'000;

// ApplyMigrations' work on `conn`; the same outcomes, Unavailable (or Timeout) when the connection is lost on the way.
Result<MigrationOutcome> Migrate(pg::Connection& conn, std::span<const Migration> migrations);

}  // namespace iotstream::cluster

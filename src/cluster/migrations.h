// The migration runner on an open connection (ApplyMigrations opens its own). Private to src/cluster.
#pragma once

#include <span>

#include "cluster/cluster.h"
#include "cluster/pg.h"

namespace iotstream::cluster {

// ApplyMigrations' work on `conn`; the same outcomes, Unavailable when the connection is lost on the way.
Result<MigrationOutcome> Migrate(pg::Connection& conn, std::span<const Migration> migrations);

}  // namespace iotstream::cluster

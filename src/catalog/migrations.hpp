// The catalog's schema history: an ordered list of SQL migrations. Version N of a catalog
// means migrations 1..N have been applied; the version lives in PRAGMA user_version.
#pragma once

#include "catalog/sqlite.hpp"

namespace dhanbak::catalog {

int LatestSchemaVersion();

// Brings the schema to LatestSchemaVersion(), one migration per transaction, so a crash leaves
// the catalog at a well-defined version. Refuses a catalog newer than this build understands.
void Migrate(sqlite::Database& db);

}  // namespace dhanbak::catalog

// The point-in-time test fixture shared by the base backup tests on file:// and on B2: two
// databases (one table in a tablespace), their digest, points in time taken from the server's
// clock between commits, and directories the server's OS user owns.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/wal_archive_env.hpp"

namespace dhanbak::test {

// A directory inside the env that the server's OS user (who runs dhanbak there) may write.
std::string OwnedDir(const WalArchiveEnv& env, const std::string& name);
// A tablespace directory that lives as long as the cluster (an env's directory goes with its test).
std::string TablespaceDir(const PgCluster& cluster, const std::string& name);
// Appends [postgres] conninfo for `cluster` to the env's configuration (once per env).
void PointAt(const WalArchiveEnv& env, const PgCluster& cluster);
// The contents of both test databases.
std::string Digest(const std::function<std::string(const std::string&, const std::string&)>& psql);
std::string Digest(const PgCluster& c);
std::string Digest(const DataDirServer& s);
// The server's clock now, in UTC, after a pause, so that it lies strictly between two commits.
std::string PointInTime(const PgCluster& c);
// Writes a row into ledger in a segment of its own, archives it and removes it from the archive
// (a gap in the WAL); returns the segment's name.
std::string WriteIntoLostSegment(const WalArchiveEnv& env, PgCluster& cluster);
// (Re)creates databases ledger (table entries in tablespace bb_space at `tablespace_dir`) and payroll.
void CreateSchema(const PgCluster& cluster, const std::string& tablespace_dir);

// The point-in-time restore tests' views of a cluster: ledger's entries and payroll's slips as
// "count:digest" strings, and whether a database exists.
std::string Ledger(const PgCluster& c, const std::string& db);
std::string Payroll(const PgCluster& c, const std::string& db);
bool HasDatabase(const PgCluster& c, const std::string& db);
// What runs left under the env's scratch directory (nothing, after every run without scratch_keep).
std::vector<std::string> ScratchContents(const WalArchiveEnv& env);
// dhanbak restore ARGS... in time zone `tz`.
ProcessResult PitrRestore(const WalArchiveEnv& env, const std::vector<std::string>& args, const std::string& tz = "UTC");
void DropDatabases(const PgCluster& c, const std::vector<std::string>& names);
// The start of every point-in-time case: archiving into `env`, the two test databases (ledger's
// table in tablespace `space`), and none of `restored` (the databases the case restores into).
// Returns the tablespace's directory.
std::string PreparePitr(PgCluster& cluster, const WalArchiveEnv& env, const std::string& space,
                        const std::vector<std::string>& restored);

}  // namespace dhanbak::test

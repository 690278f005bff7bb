#pragma once
// One SQL statement run through libpq inside the test process, printed as `psql -X -q -At`
// prints it. PgCluster::Psql runs most of the tests' statements this way: a psql process costs
// about 18 ms of CPU to start on the CI machine, and the suites ran about 1,500 of them each.
// Anything psql would run differently from a single libpq query (several statements, a psql
// meta-command, COPY, a libpq environment setting the psql child would not see) is left to psql.
#include <optional>
#include <string>
#include <vector>

namespace dhanbak::test {

struct InProcessSqlResult {
  bool ok = false;
  bool connection_failed = false;  // psql would have exited 2 (3: the statement failed)
  std::string out;                 // rows as psql -At prints them: fields joined by '|', one per line
  std::string err;                 // as psql prints it: "ERROR:  ...", "LINE 1: ..."
};

// The libpq environment variables PgCluster unsets for its psql children (a caller's PGOPTIONS or
// PGTZ must not change what the tests read back).
const std::vector<std::string>& PsqlChildUnsetEnvironment();

// True when `sql` is one statement (an optional trailing ';', whitespace and comments aside) with
// no backslash anywhere and not a COPY.
bool IsSingleStatement(const std::string& sql);

// std::nullopt when the statement must go to a psql process instead (see above).
std::optional<InProcessSqlResult> TryRunInProcess(const std::string& conninfo, const std::string& sql);

}  // namespace dhanbak::test

// `dhanbak timeline DB --around TIME [--minutes N]`: the transactions that changed DB in the N
// minutes (default 10) on either side of TIME, read from the archived WAL with pg_waldump — their
// commit (or abort) times to the microsecond, the tables they changed with row counts per
// operation, and whether they changed the schema (DDL). With it the operator restores to just
// before the bad statement (`restore DB --at <its commit time minus 1 µs>`) instead of guessing.
// Table names come from the live database (by relfilenode); a table dropped or rewritten since
// shows as its file number. Nothing is replayed and nothing is written outside a temporary
// directory.
#pragma once

#include <string>

#include "command/context.hpp"

namespace dhanbak::command {

struct TimelineOptions {
  std::string database;
  std::string around;  // TIME
  int minutes = 10;
};

int RunTimeline(Context& ctx, const TimelineOptions& options);

}  // namespace dhanbak::command

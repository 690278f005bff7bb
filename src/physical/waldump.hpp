// Reading pg_waldump's text output: which transactions touched which relations of one database,
// and when each committed or aborted — what `dhanbak timeline DB --around TIME` shows so that an
// operator can restore to "just before the bad statement" instead of guessing.
//
// Lines look like (PostgreSQL 15, TZ=UTC):
//   rmgr: Heap        len (rec/tot): 54/ 182, tx: 735, lsn: 0/030000E0, prev 0/03000060, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/16384/16385 blk 0
//   rmgr: Transaction len (rec/tot): 34/  34, tx: 735, lsn: 0/03000118, prev 0/030000E0, desc: COMMIT 2024-01-15 14:32:01.123456 UTC; subxacts: 736
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/time_spec.hpp"

namespace dhanbak::physical {

struct DumpedTransaction {
  uint64_t xid = 0;
  std::string outcome;      // "committed", "aborted", "prepared", or "" (no end record seen)
  UnixMicros end_time = 0;  // of the COMMIT / ABORT record
  bool ddl = false;         // it changed the database's system catalogs (CREATE, ALTER, DROP, TRUNCATE, ...)
  std::string first_lsn;
  // relfilenode → operation (INSERT, UPDATE, HOT_UPDATE, DELETE, TRUNCATE, MULTI_INSERT) → rows
  std::map<uint64_t, std::map<std::string, uint64_t>> changes;
};

// Transactions of `database_oid` (every database's when 0) in `dump`, by top-level xid: the
// records of subtransactions are counted with the transaction their commit record names.
std::map<uint64_t, DumpedTransaction> ParseWalDump(std::string_view dump, uint64_t database_oid);

}  // namespace dhanbak::physical

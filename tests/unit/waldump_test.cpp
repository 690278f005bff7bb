// Reading pg_waldump output (timeline --around): lines as PostgreSQL 15's pg_waldump prints them
// for a CREATE TABLE, an INSERT, an UPDATE with a DELETE in a released savepoint, a TRUNCATE and a
// COPY in database 5, with a record of another database mixed in.
#include <doctest/doctest.h>

#include <string>

#include "common/time_spec.hpp"
#include "physical/waldump.hpp"

namespace waldump_test {  // this file's names, apart from its unity batch's

using dhanbak::ParseUtcIso;
using dhanbak::physical::ParseWalDump;

const char* const kDump =
    "rmgr: Heap        len (rec/tot):     54/  5238, tx:        736, lsn: 0/03060740, prev 0/0305F148, desc: INSERT off 1 flags 0x01, blkref #0: rel 1663/5/1259 blk 1 FPW\n"
    "rmgr: Storage     len (rec/tot):     42/    42, tx:        736, lsn: 0/0306B408, prev 0/0306B3C0, desc: CREATE base/5/16394\n"
    "rmgr: Heap2       len (rec/tot):    830/   830, tx:        736, lsn: 0/03069320, prev 0/030692E0, desc: MULTI_INSERT 6 tuples flags 0x02, blkref #0: rel 1663/5/1249 blk 55\n"
    "rmgr: Transaction len (rec/tot):    677/   677, tx:        736, lsn: 0/03074A90, prev 0/030749D0, desc: COMMIT 2026-12-01 17:44:30.388922 UTC; inval msgs: catcache 80 snapshot 2608 relcache 16391\n"
    "rmgr: Heap        len (rec/tot):     63/    63, tx:        737, lsn: 0/03074D38, prev 0/03074A90, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Heap        len (rec/tot):     63/    63, tx:        737, lsn: 0/03074E18, prev 0/03074DD8, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Heap        len (rec/tot):     63/    63, tx:        799, lsn: 0/03074E20, prev 0/03074E18, desc: INSERT off 9 flags 0x00, blkref #0: rel 1663/7/16500 blk 0\n"
    "rmgr: Heap        len (rec/tot):     63/    63, tx:        737, lsn: 0/03074E98, prev 0/03074E58, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Transaction len (rec/tot):     34/    34, tx:        737, lsn: 0/03074F18, prev 0/03074ED8, desc: COMMIT 2026-12-01 17:44:30.394221 UTC\n"
    "rmgr: Heap        len (rec/tot):     71/    71, tx:        738, lsn: 0/03074F40, prev 0/03074F18, desc: HOT_UPDATE off 1 xmax 738 flags 0x60 ; new off 4 xmax 0, blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Heap        len (rec/tot):     54/    54, tx:        739, lsn: 0/03074F88, prev 0/03074F40, desc: DELETE off 2 flags 0x00 KEYS_UPDATED , blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Transaction len (rec/tot):     46/    46, tx:        738, lsn: 0/03074FC0, prev 0/03074F88, desc: COMMIT 2026-12-01 17:44:30.397340 UTC; subxacts: 739\n"
    "rmgr: Heap        len (rec/tot):    123/   123, tx:        740, lsn: 0/03075050, prev 0/03075020, desc: UPDATE off 1 xmax 740 flags 0x60 ; new off 4 xmax 0, blkref #0: rel 1663/5/1259 blk 1\n"
    "rmgr: Transaction len (rec/tot):    206/   206, tx:        740, lsn: 0/030753A8, prev 0/03075318, desc: COMMIT 2026-12-01 17:44:30.399064 UTC; rels: base/5/16394 base/5/16391\n"
    "rmgr: Heap2       len (rec/tot):     82/    82, tx:        741, lsn: 0/03075478, prev 0/030753A8, desc: MULTI_INSERT+INIT 2 tuples flags 0x02, blkref #0: rel 1663/5/16396 blk 0\n"
    "rmgr: Heap        len (rec/tot):     54/    54, tx:        742, lsn: 0/03075500, prev 0/03075478, desc: DELETE off 1 flags 0x00 , blkref #0: rel 1663/5/16396 blk 0\n"
    "rmgr: Transaction len (rec/tot):     34/    34, tx:        741, lsn: 0/030755B0, prev 0/03075570, desc: COMMIT 2026-12-01 17:44:30.402542 UTC\n"
    "rmgr: Heap2       len (rec/tot):     59/    59, tx:          0, lsn: 0/030755E0, prev 0/030755B0, desc: PRUNE latestRemovedXid 0 nredirected 0 ndead 1, blkref #0: rel 1663/5/16391 blk 0\n"
    "rmgr: Transaction len (rec/tot):     34/    34, tx:        743, lsn: 0/03075600, prev 0/030755E0, desc: ABORT 2026-12-01 17:44:31.000001 UTC\n"
    "pg_waldump: error: error in WAL record at 0/30755D8: invalid record length at 0/3075610: wanted 24, got 0\n";

TEST_CASE("waldump: transactions of one database with their end, changes per table and DDL") {
  auto txs = ParseWalDump(kDump, 5);
  REQUIRE(txs.size() == 6);  // 736, 737, 738 (with its subtransaction 739), 740, 741, 742; 743 changed nothing
  CHECK(txs.count(739) == 0);
  CHECK(txs.count(799) == 0);  // another database's
  CHECK(txs.count(743) == 0);

  const auto& create = txs.at(736);
  CHECK(create.ddl);
  CHECK(create.outcome == "committed");
  CHECK(create.end_time == ParseUtcIso("2026-12-01T17:44:30.388922Z"));
  CHECK(create.changes.empty());

  const auto& insert = txs.at(737);
  CHECK_FALSE(insert.ddl);
  CHECK(insert.changes.at(16391).at("INSERT") == 3);
  CHECK(insert.first_lsn == "0/03074D38");

  const auto& update = txs.at(738);
  CHECK(update.changes.at(16391).at("HOT_UPDATE") == 1);
  CHECK(update.changes.at(16391).at("DELETE") == 1);  // from the released savepoint

  CHECK(txs.at(740).ddl);  // TRUNCATE: a new file, pg_class updated
  CHECK(txs.at(741).changes.at(16396).at("MULTI_INSERT") == 2);
  CHECK(txs.at(742).outcome.empty());  // still running where this WAL ends
  CHECK(txs.at(742).end_time == 0);
}

TEST_CASE("waldump: database 0 means every database") {
  auto txs = ParseWalDump(kDump, 0);
  REQUIRE(txs.count(799) == 1);
  CHECK(txs.at(799).changes.at(16500).at("INSERT") == 1);
  CHECK(ParseWalDump("", 5).empty());
  CHECK(ParseWalDump("garbage\nrmgr: Heap tx: x\n", 5).empty());
}

}  // namespace waldump_test

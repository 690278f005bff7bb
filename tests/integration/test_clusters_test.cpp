// The harness's clusters are copies of one that initdb made (support/cluster_template.hpp). Each
// must still be a cluster of its own: dhanbak tells clusters apart by their system identifier (a
// repository refuses another cluster's WAL), and several tests rely on that.
#include <doctest/doctest.h>

#include <string>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace test_clusters_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;

TEST_CASE("test clusters copied from one template each have a system identifier of their own") {
  const std::string query = "select system_identifier from pg_control_system()";
  PgCluster first;
  PgCluster second;
  const std::string first_id = first.Psql("postgres", query);
  const std::string second_id = second.Psql("postgres", query);
  CHECK(first_id != second_id);
  CHECK(first_id.size() >= 18);  // the time in the high half, as initdb's: a 19- or 20-digit number
  // The server accepted the copied WAL under the new identifier (the startup reads its checkpoint
  // from it); it must also replay it after a crash: stop with no checkpoint, start again.
  first.Psql("postgres", "set synchronous_commit = on; create table t as select 1 as x");  // flushed: replayed
  RunOrThrow(AsServerUser({first.Tool("pg_ctl"), "-D", first.data_dir(), "-m", "immediate", "-w", "stop"}));
  first.Reconfigure("# started again after an immediate stop");  // its own stop finds nothing to stop
  CHECK(first.Psql("postgres", query) == first_id);
  CHECK(first.Psql("postgres", "select x from t") == "1");
}

}  // namespace test_clusters_test

// The kitchen-sink and LATIN1 databases (tests/integration/sql/), created once per test binary
// and backed up once (jobs = 2) into a DhanbakWorkdir, for the fidelity and export tests.
// Header-only: each integration binary that includes it gets its own instance.
#pragma once

#include <memory>
#include <string>

#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"

namespace dhanbak::test {

inline const std::string kSqlDir = std::string(DHANBAK_SOURCE_DIR) + "/tests/integration/sql/";
inline const std::string kKs = "ks_src";
inline const std::string kLatin1 = "l1_src";

struct KitchenSinkFixture {
  PgCluster& cluster = SharedCluster();
  std::unique_ptr<DhanbakWorkdir> work;

  KitchenSinkFixture() {
    cluster.CreateDatabase(kKs);
    cluster.RunSqlFile(kKs, kSqlDir + "kitchen_sink.sql", {{"dbname", kKs}});
    cluster.CreateDatabase(kLatin1, "ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0");
    cluster.RunSqlFile(kLatin1, kSqlDir + "latin1.sql", {{"dbname", kLatin1}});
    work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{kKs, kLatin1}, 2, ""});
    work->RunOk({"init"});
    work->RunOk({"backup"});
  }
};

inline KitchenSinkFixture& SharedKitchenSink() {
  static KitchenSinkFixture fixture;
  return fixture;
}

}  // namespace dhanbak::test

// The swap at the end of `restore --replace` (issue 8):
//  - a monitoring agent that keeps reconnecting to the live database and to the database being
//    restored does not break it: both renames are retried while new connections to both are
//    refused, and both databases get their own datallowconn back afterwards;
//  - when the final rename and the rollback both fail, the verified restore is kept, never
//    dropped, and the error says where each database is and what to run by hand;
//  - a SIGTERM between the two renames does not leave the swap half-done.
#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/dhanbak_workdir.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"

namespace replace_swap_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::test;
using namespace std::chrono_literals;

namespace {

bool Contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// One libpq connection; a failed connection is simply not ok().
struct Conn {
  PGconn* c;
  explicit Conn(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {}
  ~Conn() { PQfinish(c); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  // Runs `sql`; false on any error. Rows, if any, go to `rows` (first column only).
  bool Exec(const std::string& sql, std::vector<std::string>* rows = nullptr) {
    PGresult* r = PQexec(c, sql.c_str());
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (good && rows) {
      for (int i = 0; i < PQntuples(r); ++i) rows->push_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return good;
  }
};

const char* kRestoringLike = "datname LIKE 'dhanbak\\_restoring\\_%'";

// A monitoring agent that visits every database, in two styles found in real agents, both
// finding the live database and any database dhanbak is restoring into in pg_database and
// ignoring every failure:
//  - `visitors` workers, each in a loop with no pause: connect, SELECT 1, hold ~50 ms,
//    disconnect;
//  - one worker keeping a connection open to each database (as exporters with auto-discovery
//    do), running SELECT 1 on it every 50 ms and reconnecting at once when it is terminated.
// The visitors alone do not stop a single rename: ALTER DATABASE RENAME waits up to 5 s for the
// sessions to leave while its lock holds new ones back. The kept connection does, unless
// dhanbak refuses new connections, terminates it and retries.
class MonitoringAgent {
 public:
  MonitoringAgent(PgCluster& cluster, const std::string& live, int visitors)
      : cluster_(cluster), live_(live) {
    for (int i = 0; i < visitors; ++i) {
      threads_.emplace_back([this, i] {
        Conn catalog(cluster_.Conninfo("postgres"));
        for (size_t round = static_cast<size_t>(i); !stop_; ++round) {
          std::vector<std::string> names = Discover(catalog);
          // Workers start on different databases, so that each one is visited all the time.
          for (size_t k = 0; k < names.size() && !stop_; ++k) {
            Conn visit(cluster_.Conninfo(names[(round + k) % names.size()]));
            if (!visit.ok() || !visit.Exec("SELECT 1")) continue;
            Count(names[(round + k) % names.size()]);
            std::this_thread::sleep_for(50ms);
          }
        }
      });
    }
    threads_.emplace_back([this] {
      Conn catalog(cluster_.Conninfo("postgres"));
      std::map<std::string, std::unique_ptr<Conn>> open;
      while (!stop_) {
        for (const auto& db : Discover(catalog)) {
          auto& c = open[db];
          if (c && c->Exec("SELECT 1")) {
            Count(db);
            continue;
          }
          c = std::make_unique<Conn>(cluster_.Conninfo(db));
          if (c->ok() && c->Exec("SELECT 1")) Count(db);
        }
        std::this_thread::sleep_for(50ms);
      }
    });
  }
  ~MonitoringAgent() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int live_visits() const { return live_visits_; }
  int restoring_visits() const { return restoring_visits_; }

 private:
  std::vector<std::string> Discover(Conn& catalog) {
    std::vector<std::string> names;
    catalog.Exec("SELECT datname FROM pg_database WHERE datname = " + QuoteLiteral(live_) + " OR " + kRestoringLike,
                 &names);
    if (names.empty()) std::this_thread::sleep_for(5ms);
    return names;
  }
  void Count(const std::string& db) { (db == live_ ? live_visits_ : restoring_visits_)++; }

  PgCluster& cluster_;
  const std::string live_;
  std::atomic<bool> stop_{false};
  std::atomic<int> live_visits_{0}, restoring_visits_{0};
  std::vector<std::thread> threads_;
};

std::string AllowConn(PgCluster& cluster, const std::string& db) {
  return cluster.Psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = " + QuoteLiteral(db));
}

// `name` with a table `t` of 5000 rows, backed up; then a row 0 is added to the live database
// only, so that the restored copy and the one kept aside can be told apart.
std::unique_ptr<DhanbakWorkdir> BackedUpThenChanged(PgCluster& cluster, const std::string& name) {
  cluster.CreateDatabase(name);
  cluster.Psql(name, "CREATE TABLE t (id int PRIMARY KEY, note text);"
                     "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;");
  auto work = std::make_unique<DhanbakWorkdir>(cluster, WorkdirOptions{{name}, 2, ""});
  work->RunOk({"init"});
  work->RunOk({"backup"});
  cluster.Psql(name, "INSERT INTO t VALUES (0, 'written after the backup')");
  return work;
}

std::string Rows(PgCluster& cluster, const std::string& db) { return cluster.Psql(db, "SELECT count(*) FROM t"); }

// The name following `prefix` in `text`, up to the end of the line or a quote or semicolon.
std::string NameAfter(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) return "";
  std::string rest = text.substr(at + prefix.size());
  return rest.substr(0, rest.find_first_of("\n;\""));
}

// The database dhanbak is restoring into, once it exists; "" after two minutes.
std::string WaitForRestoringDatabase(Conn& admin) {
  for (auto deadline = std::chrono::steady_clock::now() + 120s; std::chrono::steady_clock::now() < deadline;) {
    std::vector<std::string> names;
    admin.Exec(std::string("SELECT datname FROM pg_database WHERE ") + kRestoringLike, &names);
    if (!names.empty()) return names[0];
    std::this_thread::sleep_for(5ms);
  }
  return "";
}

// Opens a transaction on `holder` (connected to another database) that locks database `db`
// until it ends: ALTER DATABASE RENAME waits for that lock, and terminating the sessions of `db`
// does not end it. ALTER DATABASE ... ALLOW_CONNECTIONS does not wait for it.
bool LockDatabase(Conn& holder, const std::string& db) {
  return holder.Exec("BEGIN") && holder.Exec("COMMENT ON DATABASE " + QuoteIdent(db) + " IS 'locked by the test'");
}

}  // namespace

TEST_CASE("--replace --terminate-connections succeeds while a monitoring agent keeps reconnecting to both databases") {
  PgCluster& cluster = SharedCluster();
  const std::string live = "swap_agent";
  auto work = BackedUpThenChanged(cluster, live);

  MonitoringAgent agent(cluster, live, 3);
  ProcessResult r = work->Run({"restore", live, "--replace", "--yes", "--terminate-connections"});
  agent.Stop();
  REQUIRE_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(agent.live_visits() > 0);
  CHECK(agent.restoring_visits() > 0);  // the agent did reach the database being restored

  std::string aside = NameAfter(r.out, "the previous database was kept as ");
  REQUIRE_MESSAGE(!aside.empty(), r.out);
  CHECK(Rows(cluster, live) == "5000");   // the backup's contents, in service
  CHECK(Rows(cluster, aside) == "5001");  // the database that was live, kept
  CHECK(AllowConn(cluster, live) == "t");
  CHECK(AllowConn(cluster, aside) == "t");
  CHECK(DatabasesWithPrefix(cluster, "dhanbak_restoring_").empty());
  cluster.DropDatabase(aside);
  cluster.DropDatabase(live);
}

TEST_CASE("--replace whose final rename and rollback both fail keeps the verified restore and says where everything is") {
  PgCluster& cluster = SharedCluster();
  const std::string live = "swap_taken";
  const std::string squatter = "swap_taken_squatter";
  auto work = BackedUpThenChanged(cluster, live);
  cluster.CreateDatabase(squatter);

  // Provokes the failure: while the restored database's rename into place waits for a lock this
  // test holds, another database takes the live name (the moment the live database is renamed
  // aside), so that neither the rename into place nor the rollback can succeed.
  BackgroundProcess restore(work->Argv({"restore", live, "--replace", "--yes", "--terminate-connections"}));
  std::string restoring;
  std::atomic<bool> squatted{false};
  std::thread provoker([&] {
    Conn admin(cluster.Conninfo("postgres"));
    Conn holder(cluster.Conninfo("postgres"));
    restoring = WaitForRestoringDatabase(admin);
    if (restoring.empty() || !LockDatabase(holder, restoring)) return;
    for (auto deadline = std::chrono::steady_clock::now() + 120s;
         !squatted && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(2ms)) {
      squatted = admin.Exec("ALTER DATABASE " + QuoteIdent(squatter) + " RENAME TO " + QuoteIdent(live));
    }
    holder.Exec("ROLLBACK");  // the comment is not kept
  });
  ProcessResult r = restore.Wait(180s);
  provoker.join();
  REQUIRE_FALSE(restoring.empty());
  REQUIRE(squatted);

  CHECK_MESSAGE(r.exit_code != 0, Describe(r));
  auto asides = DatabasesWithPrefix(cluster, live + "_before_restore_");
  REQUIRE_MESSAGE(asides.size() == 1, Describe(r));
  const std::string aside = asides[0];
  // The error names both databases and how to finish by hand.
  CHECK_MESSAGE(Contains(r.err, "the live database is now named " + aside), Describe(r));
  CHECK_MESSAGE(Contains(r.err, "the verified restore is named " + restoring), Describe(r));
  CHECK_MESSAGE(Contains(r.err, "ALTER DATABASE \"" + restoring + "\" RENAME TO \"" + live + "\""), Describe(r));
  CHECK_MESSAGE(Contains(r.err, "ALTER DATABASE \"" + aside + "\" RENAME TO \"" + live + "\""), Describe(r));
  CHECK_FALSE(Contains(r.err, "dropped database " + restoring));

  // The verified restore is kept with the backup's contents; the old live database is intact;
  // both accept connections again.
  REQUIRE(cluster.DatabaseExists(restoring));
  CHECK(Rows(cluster, restoring) == "5000");
  CHECK(Rows(cluster, aside) == "5001");
  CHECK(AllowConn(cluster, restoring) == "t");
  CHECK(AllowConn(cluster, aside) == "t");

  // Finishing by hand as the message says puts the restore in service.
  cluster.DropDatabase(live);  // the squatter
  cluster.Psql("postgres", "ALTER DATABASE " + QuoteIdent(restoring) + " RENAME TO " + QuoteIdent(live));
  CHECK(Rows(cluster, live) == "5000");
  cluster.DropDatabase(aside);
  cluster.DropDatabase(live);
}

TEST_CASE("SIGTERM between the two renames: the swap is finished, then the run exits 143") {
  PgCluster& cluster = SharedCluster();
  const std::string live = "swap_sigterm";
  auto work = BackedUpThenChanged(cluster, live);

  BackgroundProcess restore(work->Argv({"restore", live, "--replace", "--yes", "--terminate-connections"}));
  Conn admin(cluster.Conninfo("postgres"));
  Conn holder(cluster.Conninfo("postgres"));
  const std::string restoring = WaitForRestoringDatabase(admin);
  REQUIRE_FALSE(restoring.empty());
  REQUIRE(LockDatabase(holder, restoring));
  // Once the rename of the restore into place waits for the lock, the live database is aside.
  bool waiting = false;
  for (int i = 0; i < 2000 && !waiting && restore.Running(); ++i) {
    std::vector<std::string> n;
    admin.Exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE "
               "'ALTER DATABASE " + QuoteIdent(restoring) + " RENAME TO %'",
               &n);
    waiting = !n.empty() && n[0] != "0";
    if (!waiting) std::this_thread::sleep_for(10ms);
  }
  REQUIRE_MESSAGE(waiting, restore.Stderr());
  REQUIRE(DatabasesWithPrefix(cluster, live + "_before_restore_").size() == 1);
  restore.Signal(SIGTERM);
  std::this_thread::sleep_for(300ms);  // the signal has arrived well before the lock is released
  holder.Exec("ROLLBACK");
  ProcessResult r = restore.Wait(120s);

  CHECK_MESSAGE(r.exit_code == 128 + SIGTERM, Describe(r));
  std::string aside = NameAfter(r.out, "the previous database was kept as ");
  REQUIRE_MESSAGE(!aside.empty(), Describe(r));
  CHECK(Rows(cluster, live) == "5000");
  CHECK(Rows(cluster, aside) == "5001");
  CHECK(AllowConn(cluster, live) == "t");
  CHECK(AllowConn(cluster, aside) == "t");
  cluster.DropDatabase(aside);
  cluster.DropDatabase(live);
}

}  // namespace replace_swap_test

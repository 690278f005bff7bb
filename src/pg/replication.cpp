#include "pg/replication.hpp"

#include <libpq-fe.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "pg/libpq_result.hpp"

namespace dhanbak::pg {
namespace {

std::string Cell(PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? std::string() : std::string(PQgetvalue(r, row, col));
}

uint32_t ParseTimeline(const std::string& s) {
  try {
    return static_cast<uint32_t>(std::stoul(s));
  } catch (const std::exception&) {
    throw Error(ErrorCode::kPg, "the server sent an invalid timeline '" + s + "'");
  }
}

}  // namespace

uint64_t ParseLsn(std::string_view lsn) {
  unsigned hi = 0, lo = 0;
  char tail = 0;
  std::string s(lsn);
  if (std::sscanf(s.c_str(), "%X/%X%c", &hi, &lo, &tail) != 2) {
    throw Error(ErrorCode::kPg, "invalid WAL position '" + s + "'");
  }
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

std::string FormatLsn(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

ReplicationConnection::ReplicationConnection(const std::string& conninfo) {
  // The first "dbname" is expanded as a connection string; replication=true asks for a
  // physical walsender, which accepts replication commands only.
  const char* keys[] = {"dbname", "replication", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), "true", "dhanbak", nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr) throw Error(ErrorCode::kPg, "cannot allocate a PostgreSQL connection");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = TrimMessage(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    std::string hint;
    if (msg.find("replication") != std::string::npos) {
      hint = " (base-backup needs a role with the REPLICATION attribute and a 'replication' line in pg_hba.conf)";
    }
    throw Error(ErrorCode::kPg, "cannot open a replication connection to PostgreSQL: " + msg + hint);
  }
}

ReplicationConnection::~ReplicationConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void ReplicationConnection::Fail(const std::string& what) const {
  throw Error(ErrorCode::kPg, what + ": " + TrimMessage(PQerrorMessage(conn_)));
}

int ReplicationConnection::server_version_num() const { return PQserverVersion(conn_); }

SystemIdentity ReplicationConnection::IdentifySystem() {
  PgResult r(PQexec(conn_, "IDENTIFY_SYSTEM"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) Fail("IDENTIFY_SYSTEM failed");
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) < 3) {
    throw Error(ErrorCode::kPg, "IDENTIFY_SYSTEM returned an unexpected result");
  }
  SystemIdentity id;
  id.system_identifier = Cell(r.get(), 0, 0);
  id.timeline = ParseTimeline(Cell(r.get(), 0, 1));
  id.wal_position = Cell(r.get(), 0, 2);
  return id;
}

std::string ReplicationConnection::Show(const std::string& setting) {
  PgResult r(PQexec(conn_, ("SHOW " + setting).c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) Fail("SHOW " + setting + " failed");
  return Cell(r.get(), 0, 0);
}

BaseBackupStart ReplicationConnection::StartBaseBackup(const std::string& label) {
  std::string command = "BASE_BACKUP (LABEL " + QuoteLiteral(label) +
                        ", CHECKPOINT 'fast', WAIT false, MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C')";
  if (PQsendQuery(conn_, command.c_str()) != 1) Fail("BASE_BACKUP could not be sent");
  BaseBackupStart start;
  PgResult first(PQgetResult(conn_));
  if (PQresultStatus(first.get()) != PGRES_TUPLES_OK || PQntuples(first.get()) != 1) Fail("BASE_BACKUP failed");
  start.start_lsn = Cell(first.get(), 0, 0);
  start.timeline = ParseTimeline(Cell(first.get(), 0, 1));
  PgResult spaces(PQgetResult(conn_));
  if (PQresultStatus(spaces.get()) != PGRES_TUPLES_OK) Fail("BASE_BACKUP failed to list tablespaces");
  for (int i = 0; i < PQntuples(spaces.get()); ++i) {
    TablespaceInfo t;
    t.oid = Cell(spaces.get(), i, 0);
    t.location = Cell(spaces.get(), i, 1);
    std::string size = Cell(spaces.get(), i, 2);
    if (!size.empty()) t.size = std::stoll(size) * 1024;  // the server reports kB
    start.tablespaces.push_back(std::move(t));
  }
  PgResult copy(PQgetResult(conn_));
  if (PQresultStatus(copy.get()) != PGRES_COPY_OUT) Fail("BASE_BACKUP did not start its data stream");
  return start;
}

void ReplicationConnection::ReadBaseBackup(const BaseBackupSink& sink, const std::function<bool()>& interrupted) {
  bool in_manifest = false;
  bool seen_archive = false;
  for (;;) {
    if (interrupted()) throw Error(ErrorCode::kInterrupted, "base backup interrupted");
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n == -1) break;  // COPY done
    if (n == -2 || buf == nullptr) Fail("the base backup stream broke");
    std::unique_ptr<char, void (*)(void*)> owned(buf, PQfreemem);
    if (n < 1) throw Error(ErrorCode::kPg, "the server sent an empty base backup message");
    std::string_view body(buf + 1, static_cast<size_t>(n - 1));
    switch (buf[0]) {
      case 'n': {  // new archive: name\0 tablespace path\0
        size_t a = body.find('\0');
        size_t b = a == std::string_view::npos ? a : body.find('\0', a + 1);
        if (b == std::string_view::npos) throw Error(ErrorCode::kPg, "malformed new-archive message in the base backup");
        sink.new_archive(std::string(body.substr(0, a)), std::string(body.substr(a + 1, b - a - 1)));
        seen_archive = true;
        in_manifest = false;
        break;
      }
      case 'm':
        sink.manifest_start();
        in_manifest = true;
        break;
      case 'd':
        if (in_manifest) {
          sink.manifest_data(body);
        } else {
          if (!seen_archive) throw Error(ErrorCode::kPg, "base backup data arrived before any archive");
          sink.archive_data(body);
        }
        break;
      case 'p':  // progress report
        break;
      default:
        throw Error(ErrorCode::kPg, std::string("unexpected base backup message type '") + buf[0] + "'");
    }
  }
  // What follows the COPY stream (the stop position, or an error) is read by FinishBaseBackup.
}

BaseBackupEnd ReplicationConnection::FinishBaseBackup() {
  PgResult r(PQgetResult(conn_));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) Fail("BASE_BACKUP did not finish");
  BaseBackupEnd end;
  end.stop_lsn = Cell(r.get(), 0, 0);
  end.timeline = ParseTimeline(Cell(r.get(), 0, 1));
  for (;;) {
    PgResult rest(PQgetResult(conn_));
    if (!rest) break;
    if (PQresultStatus(rest.get()) != PGRES_COMMAND_OK && PQresultStatus(rest.get()) != PGRES_TUPLES_OK) {
      Fail("BASE_BACKUP ended with an error");
    }
  }
  return end;
}

}  // namespace dhanbak::pg

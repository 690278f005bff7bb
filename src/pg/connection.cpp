#include "pg/connection.hpp"

#include <libpq-fe.h>

#include <memory>

#include "dhanbak/error.hpp"
#include "pg/libpq_result.hpp"

namespace dhanbak::pg {
using Result = PgResult;

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string ConninfoValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string QualifiedName(std::string_view schema, std::string_view name) {
  return QuoteIdent(schema) + "." + QuoteIdent(name);
}

// libpq hands a message the server sends between queries to the notice receiver, not to the next
// query's error: a session ended while idle in its transaction (a hot standby's recovery conflict,
// pg_terminate_backend, a shutdown) then fails its next query with only "server closed the
// connection unexpectedly" when the send finds the socket closed. The reason is kept for Fail;
// every message still goes where libpq would have sent it.
struct NoticeHook {
  PQnoticeReceiver previous = nullptr;  // libpq's own; its argument is always null
  std::string ended_because;
};

namespace {

void OnNotice(void* arg, const PGresult* res) {
  auto* hook = static_cast<NoticeHook*>(arg);
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (severity != nullptr && primary != nullptr &&
      (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
    hook->ended_because = primary;
  }
  if (hook->previous != nullptr) hook->previous(nullptr, res);
}

}  // namespace

PgConnection::PgConnection(const std::string& conninfo, const std::optional<std::string>& dbname) {
  // The first "dbname" is expanded as a connection string; a second one is a plain name.
  std::vector<const char*> keys{"dbname", "fallback_application_name"};
  std::vector<const char*> values{conninfo.c_str(), "dhanbak"};
  if (dbname) {
    keys.push_back("dbname");
    values.push_back(dbname->c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn_ == nullptr) throw Error(ErrorCode::kPg, "cannot allocate a PostgreSQL connection");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = TrimMessage(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(ErrorCode::kPg, "cannot connect to PostgreSQL" +
                                    (dbname ? " database '" + *dbname + "'" : std::string()) + ": " + msg);
  }
  notices_ = std::make_unique<NoticeHook>();
  notices_->previous = PQsetNoticeReceiver(conn_, OnNotice, notices_.get());
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

std::string PgConnection::ErrorText() const {
  std::string msg = TrimMessage(PQerrorMessage(conn_));
  const std::string& why = notices_->ended_because;
  if (!why.empty() && PQstatus(conn_) == CONNECTION_BAD && msg.find(why) == std::string::npos) {
    msg = why + " (" + msg + ")";
  }
  return msg;
}

void PgConnection::Fail(const std::string& what) const { throw Error(ErrorCode::kPg, what + ": " + ErrorText()); }

std::string PgConnection::ApplySessionSettings() {
  std::string encoding = QueryValue(
      "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()");
  // Names, comments and settings travel as UTF-8 (so manifests are valid JSON whatever the
  // database encoding); table data keeps the database's own bytes through COPY ... ENCODING.
  Exec(std::string("SET client_encoding = 'UTF8'") +
       "; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"
       "; SET TimeZone = 'UTC'; SET bytea_output = 'hex'; SET lc_monetary = 'C'"
       "; SET xmloption = 'content'; SET row_security = off; SET standard_conforming_strings = on"
       "; SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0"
       "; SET search_path = ''; SET default_transaction_read_only = off"
       // A synchronized scan may start mid-table; COPY must read heap order for the hashes to match.
       "; SET synchronize_seqscans = off");
  return encoding;
}

void PgConnection::Exec(const std::string& sql) {
  Result r(PQexec(conn_, sql.c_str()));
  auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Fail("query failed");
}

bool PgConnection::TryExec(const std::string& sql, std::string& sqlstate, std::string& message) {
  Result r(PQexec(conn_, sql.c_str()));
  auto status = PQresultStatus(r.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return true;
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  sqlstate = state ? state : "";
  message = ErrorText();
  return false;
}

std::vector<Row> PgConnection::Query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0));
  auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) Fail("query failed");
  std::vector<Row> rows;
  int n = PQntuples(r.get()), m = PQnfields(r.get());
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Row row;
    for (int j = 0; j < m; ++j) {
      if (PQgetisnull(r.get(), i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r.get(), i, j), static_cast<size_t>(PQgetlength(r.get(), i, j))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string PgConnection::QueryValue(const std::string& sql, const std::vector<std::string>& params) {
  auto rows = Query(sql, params);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

void PgConnection::CopyOut(const std::string& sql, const std::function<void(std::string_view)>& fn) {
  Result r(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_OUT) Fail("COPY failed");
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      std::unique_ptr<char, decltype(&PQfreemem)> guard(buf, PQfreemem);
      fn(std::string_view(buf, static_cast<size_t>(n)));
    } else if (n == -1) {
      break;
    } else {
      Fail("COPY failed");
    }
  }
  Result end(PQgetResult(conn_));
  if (PQresultStatus(end.get()) != PGRES_COMMAND_OK) Fail("COPY failed");
  while (Result extra{PQgetResult(conn_)}) {
  }
}

void PgConnection::CopyInBegin(const std::string& sql) {
  Result r(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) Fail("COPY failed");
}

void PgConnection::CopyInPut(std::string_view data) {
  // libpq buffers a CopyData message whole, growing its output buffer to the largest one it was
  // given (and keeping it): whole chunks of up to 8 MiB would cost that much per connection.
  constexpr size_t kMessageBytes = 256 * 1024;
  for (size_t at = 0; at < data.size(); at += kMessageBytes) {
    std::string_view piece = data.substr(at, kMessageBytes);
    if (PQputCopyData(conn_, piece.data(), static_cast<int>(piece.size())) != 1) Fail("COPY failed");
  }
}

void PgConnection::CopyInEnd() {
  if (PQputCopyEnd(conn_, nullptr) != 1) Fail("COPY failed");
  Result r(PQgetResult(conn_));
  bool ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  std::string msg = ok ? "" : TrimMessage(PQresultErrorMessage(r.get()));
  while (Result extra{PQgetResult(conn_)}) {
  }
  if (!ok) throw Error(ErrorCode::kPg, "COPY failed: " + msg);
}

void PgConnection::CopyInAbort(const std::string& reason) {
  PQputCopyEnd(conn_, reason.c_str());
  while (Result extra{PQgetResult(conn_)}) {
  }
}

int PgConnection::server_version_num() const { return PQserverVersion(conn_); }

std::string PgConnection::database() const { return PQdb(conn_); }

void PgConnection::Cancel() {
  PGcancel* c = PQgetCancel(conn_);
  if (c == nullptr) return;
  char err[256];
  PQcancel(c, err, sizeof err);
  PQfreeCancel(c);
}

namespace {

PQconninfoOption* ParseConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? TrimMessage(err) : "out of memory";
    PQfreemem(err);
    throw Error(ErrorCode::kConfig, "invalid [postgres] conninfo: " + msg);
  }
  return opts;
}

}  // namespace

OptionsWithoutEnv ConninfoOptionsWithoutEnv(const std::string& conninfo) {
  PQconninfoOption* opts = ParseConninfo(conninfo);
  OptionsWithoutEnv out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->envvar != nullptr) continue;
    std::string keyword = o->keyword, dispchar = o->dispchar ? o->dispchar : "";
    if (keyword == "dbname" || dispchar.find('D') != std::string::npos) continue;  // debug options
    (dispchar.find('*') != std::string::npos ? out.secret : out.plain).emplace_back(keyword, o->val);
  }
  PQconninfoFree(opts);
  return out;
}

std::vector<std::pair<std::string, std::string>> ConninfoEnvironment(const std::string& conninfo) {
  PQconninfoOption* opts = ParseConninfo(conninfo);
  std::vector<std::pair<std::string, std::string>> env;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->envvar == nullptr) continue;
    if (std::string(o->keyword) == "dbname") continue;
    env.emplace_back(o->envvar, o->val);
  }
  PQconninfoFree(opts);
  return env;
}

}  // namespace dhanbak::pg

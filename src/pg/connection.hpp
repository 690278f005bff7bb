// PgConnection — RAII over a libpq connection, with the session settings dhanbak forces on
// both ends so that a database's own defaults can never change the bytes of a COPY stream
// (DESIGN §1 "Faithful"). Errors throw Error(kPg) with the server's message; the conninfo
// (which may hold a password) never appears in messages.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct pg_conn PGconn;

namespace dhanbak::pg {

using Row = std::vector<std::optional<std::string>>;

// Quotes an identifier the way quote_ident does (always quoted, so any name is safe).
std::string QuoteIdent(std::string_view name);
// Quotes a string literal (standard_conforming_strings on).
std::string QuoteLiteral(std::string_view value);
// "schema"."name"
std::string QualifiedName(std::string_view schema, std::string_view name);
// A value in a libpq conninfo string: 'value' with quotes and backslashes escaped.
std::string ConninfoValue(const std::string& value);

struct NoticeHook;  // connection.cpp

class PgConnection {
 public:
  // Connects to `dbname` using `conninfo` for everything else (dbname overrides the conninfo's).
  PgConnection(const std::string& conninfo, const std::optional<std::string>& dbname);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Forces DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, TimeZone UTC,
  // bytea_output hex, lc_monetary C, xmloption content, row_security off,
  // standard_conforming_strings on, no statement/lock/idle timeouts, search_path '',
  // client_encoding UTF8. Returns the database's encoding, which COPY statements name so that
  // row data keeps the database's exact bytes (see CopyToSql).
  std::string ApplySessionSettings();

  void Exec(const std::string& sql);
  // Exec that reports an error instead of throwing: false with the error's SQLSTATE and message.
  bool TryExec(const std::string& sql, std::string& sqlstate, std::string& message);
  std::vector<Row> Query(const std::string& sql, const std::vector<std::string>& params = {});
  std::string QueryValue(const std::string& sql, const std::vector<std::string>& params = {});

  // COPY ... TO STDOUT: calls `fn` with each row as it arrives (no copy of the stream is kept).
  void CopyOut(const std::string& sql, const std::function<void(std::string_view)>& fn);
  // COPY ... FROM STDIN: Begin, any number of Put, then End (or Abort on failure).
  void CopyInBegin(const std::string& sql);
  void CopyInPut(std::string_view data);
  void CopyInEnd();
  void CopyInAbort(const std::string& reason);

  int server_version_num() const;
  std::string database() const;
  // Cancels the running query from another thread (SIGTERM handling).
  void Cancel();

 private:
  [[noreturn]] void Fail(const std::string& what) const;
  // libpq's error message, after the reason the server gave for ending the session when that
  // came between queries (see connection.cpp).
  std::string ErrorText() const;
  PGconn* conn_ = nullptr;
  std::unique_ptr<NoticeHook> notices_;
};

// Environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, …) equivalent to `conninfo`,
// for child processes such as pg_dump: passing them in the environment keeps passwords out of
// process arguments. `dbname` is not included.
std::vector<std::pair<std::string, std::string>> ConninfoEnvironment(const std::string& conninfo);

// Options of `conninfo` that no PG* variable carries (keepalives, tcp_user_timeout,
// sslpassword, ...): `plain` ones may go on a command line, `secret` ones (libpq marks them as
// passwords) must not.
struct OptionsWithoutEnv {
  std::vector<std::pair<std::string, std::string>> plain, secret;
};
OptionsWithoutEnv ConninfoOptionsWithoutEnv(const std::string& conninfo);

}  // namespace dhanbak::pg

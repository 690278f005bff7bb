// Thin RAII wrappers over the sqlite3 C API: a connection, prepared statements and a
// transaction guard. Every failure throws Error(kCatalog, "catalog PATH: ...").
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace dhanbak::catalog::sqlite {

class Statement;

class Database {
 public:
  // Opens (creating if needed) the database file at `path`.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  // Runs one or more statements that return no rows of interest.
  void Exec(const std::string& sql);
  Statement Prepare(const std::string& sql);
  // The value of a PRAGMA or single-value query, as text or integer.
  std::string QueryText(const std::string& sql);
  int64_t QueryInt(const std::string& sql);
  int64_t Changes() const;
  int64_t LastInsertRowid() const;
  [[noreturn]] void Fail(const std::string& what) const;  // appends sqlite's current message

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1, as in SQL.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, const std::string& value);
  // True while a row is available; false when done.
  bool Step();
  // Steps once and expects completion (INSERT/UPDATE/DELETE).
  void Run();
  void Reset();
  int64_t Int(int column) const;
  std::string Text(int column) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction (taking the write lock up front, so busy_timeout applies
// instead of a deadlock-prone lock upgrade); ROLLBACK on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace dhanbak::catalog::sqlite

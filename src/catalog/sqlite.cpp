#include "catalog/sqlite.hpp"

#include "dhanbak/error.hpp"

namespace dhanbak::catalog::sqlite {

Database::Database(const std::string& path) : path_(path) {
  // NOMUTEX: the Catalog serialises access itself.
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(ErrorCode::kCatalog, "catalog " + path + ": cannot open: " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::Fail(const std::string& what) const {
  throw Error(ErrorCode::kCatalog, "catalog " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

void Database::Exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    throw Error(ErrorCode::kCatalog, "catalog " + path_ + ": " + text);
  }
}

Statement Database::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    Fail("cannot prepare statement");
  }
  return Statement(*this, stmt);
}

std::string Database::QueryText(const std::string& sql) {
  Statement stmt = Prepare(sql);
  return stmt.Step() ? stmt.Text(0) : std::string();
}

int64_t Database::QueryInt(const std::string& sql) {
  Statement stmt = Prepare(sql);
  return stmt.Step() ? stmt.Int(0) : 0;
}

int64_t Database::Changes() const { return sqlite3_changes64(db_); }

int64_t Database::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) db_->Fail("cannot bind parameter");
  return *this;
}

Statement& Statement::Bind(int index, const std::string& value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
    db_->Fail("cannot bind parameter");
  }
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->Fail("statement failed");
}

void Statement::Run() {
  while (Step()) {
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Transaction::Transaction(Database& db) : db_(db) { db_.Exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.Exec("ROLLBACK");
    } catch (const Error&) {
      // The transaction is already gone (e.g. SQLite rolled it back itself); nothing to undo.
    }
  }
}

void Transaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

}  // namespace dhanbak::catalog::sqlite

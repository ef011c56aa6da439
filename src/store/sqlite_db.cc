#include "sqlite_db.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

namespace simtune::store {

Statement::Statement(sqlite3_stmt* stmt, sqlite3* db, std::string context)
    : stmt_(stmt), db_(db), context_(std::move(context)) {}

void Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  SIMTUNE_CHECK_MSG(rc == SQLITE_OK, context_ + ": " + sqlite3_errstr(rc));
}

void Statement::Bind(int index, double value) {
  int rc = std::isnan(value) ? sqlite3_bind_null(stmt_.get(), index)
                             : sqlite3_bind_double(stmt_.get(), index, value);
  SIMTUNE_CHECK_MSG(rc == SQLITE_OK, context_ + ": " + sqlite3_errstr(rc));
}

void Statement::Bind(int index, std::string_view value) {
  // A null data pointer would bind NULL; empty strings must stay empty TEXT.
  int rc = sqlite3_bind_text64(stmt_.get(), index, value.empty() ? "" : value.data(),
                               value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  SIMTUNE_CHECK_MSG(rc == SQLITE_OK, context_ + ": " + sqlite3_errstr(rc));
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error{context_ + ": " + sqlite3_errmsg(db_)};
}

Status Statement::Run() {
  for (;;) {
    SIMTUNE_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_.get()); }

std::string Statement::ColumnName(int col) const {
  const char* name = sqlite3_column_name(stmt_.get(), col);
  return name ? name : "";
}

int Statement::ColumnType(int col) const { return sqlite3_column_type(stmt_.get(), col); }

int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

double Statement::Real(int col) const {
  if (sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return sqlite3_column_double(stmt_.get(), col);
}

std::string Statement::Text(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), col);
  if (!text) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, int busy_timeout_ms,
                                                 Access access) {
  // SQLite's own message for a missing directory is "unable to open database file".
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return Error{"store " + path + ": directory " + parent.string() + " does not exist"};
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_URI;
  switch (access) {
    case Access::kCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Access::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Access::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Access::kImmutable: flags |= SQLITE_OPEN_READONLY; break;
  }
  // As a URI, so that a path holding '?' or '#' stays a path and immutable=1 can be added.
  std::string uri = "file:";
  for (unsigned char c : std::filesystem::absolute(path, ec).string()) {
    if (std::isalnum(c) || std::strchr("/-_.~", c)) {
      uri += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      uri += hex;
    }
  }
  if (access == Access::kImmutable) uri += "?immutable=1";
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Error{"store " + path + ": cannot open: " + reason};
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

Result<Statement> Database::Prepare(std::string_view operation, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Fail(operation);
  }
  return Statement(stmt, db_.get(), "store " + path_ + ": " + std::string(operation));
}

Status Database::Exec(std::string_view operation, const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string reason = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return Error{"store " + path_ + ": " + std::string(operation) + ": " + reason};
  }
  return Status::Ok();
}

Error Database::Fail(std::string_view operation) const {
  return Error{"store " + path_ + ": " + std::string(operation) + ": " +
               sqlite3_errmsg(db_.get())};
}

Result<Transaction> Transaction::Immediate(Database& db) {
  SIMTUNE_RETURN_IF_ERROR(db.Exec("begin transaction", "BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Result<Transaction> Transaction::Deferred(Database& db) {
  SIMTUNE_RETURN_IF_ERROR(db.Exec("begin transaction", "BEGIN DEFERRED"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Rollback failing leaves nothing to do: SQLite has already ended the transaction then.
  if (db_) (void)db_->Exec("rollback", "ROLLBACK");
}

Status Transaction::Commit() {
  SIMTUNE_CHECK(db_ != nullptr);
  Status status = db_->Exec("commit", "COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace simtune::store

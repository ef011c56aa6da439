// Thin RAII wrappers over the sqlite3 C API, private to src/store/.
//
// Every error names the store file and the operation, then SQLite's own reason:
//   "store runs/simtune.db: add artifact: CHECK constraint failed: status IN ('ok','failed')".
// Statements bind values by position (BindAll binds ?1, ?2, ... in order); SQL text never
// contains values. A Statement must not outlive the Database it was prepared on.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "simtune/result.h"

namespace simtune::store {

class Statement {
 public:
  Statement(sqlite3_stmt* stmt, sqlite3* db, std::string context);

  // Binding failures are programming errors (wrong index, misuse) and abort.
  void Bind(int index, int64_t value);
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, bool value) { Bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  void Bind(int index, double value);  // NaN is stored as NULL (SQLite has no NaN)
  void Bind(int index, std::string_view value);
  void Bind(int index, const std::string& value) { Bind(index, std::string_view(value)); }
  void Bind(int index, const char* value) { Bind(index, std::string_view(value)); }
  template <class... Args>
  void BindAll(const Args&... args) {
    int index = 1;
    (Bind(index++, args), ...);
  }

  // Advances: true when a row is ready, false when done.
  Result<bool> Step();
  // Steps to completion, discarding rows.
  Status Run();

  int ColumnCount() const;
  std::string ColumnName(int col) const;
  int ColumnType(int col) const;         // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_NULL...
  int64_t Int(int col) const;            // NULL reads as 0
  double Real(int col) const;            // NULL reads as NaN (the inverse of Bind(double))
  std::string Text(int col) const;       // NULL reads as ""

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  sqlite3* db_;
  std::string context_;  // "store <path>: <operation>"
};

class Database {
 public:
  // How to open the file: read-write and created when missing; read-write, existing; read
  // only; read only as an immutable snapshot (no locks, no -shm: a store in a folder that
  // cannot be written, whose readers cannot create the WAL index).
  enum class Access { kCreate, kReadWrite, kReadOnly, kImmutable };
  // Opens with extended result codes and `busy_timeout_ms`. The parent directory must exist.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, int busy_timeout_ms,
                                                Access access = Access::kCreate);

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_.get(); }

  // `operation` labels errors from this statement ("add artifact").
  Result<Statement> Prepare(std::string_view operation, std::string_view sql);
  // Runs SQL without parameters (may hold several statements).
  Status Exec(std::string_view operation, const std::string& sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_.get()); }
  // "store <path>: <operation>: <sqlite3_errmsg>".
  Error Fail(std::string_view operation) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
};

// BEGIN on construction, ROLLBACK on destruction unless Commit() succeeded.
class Transaction {
 public:
  // IMMEDIATE takes the write lock up front so that the busy timeout applies to it; a
  // DEFERRED transaction that reads and then writes can fail with SQLITE_BUSY at once when
  // another connection committed in between. Use Deferred for read-only snapshots.
  static Result<Transaction> Immediate(Database& db);
  static Result<Transaction> Deferred(Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;  // null once committed, rolled back or moved from
};

}  // namespace simtune::store

// Result<T>: the value of an operation a user can make fail (bad input, missing tool,
// unreadable file), or an Error with a message that names the bad value and where it came
// from. Broken invariants are bugs and use SIMTUNE_CHECK instead, which aborts.
//
// Messages follow the house style: lower-case, no final period, offending value included,
// e.g. "space.json:12: tile_m must divide M=96; got 7".
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace simtune {

struct Error {
  std::string message;
};

// Prefixes context to an error message: Wrap(err, "targets/x.json") -> "targets/x.json: ...".
inline Error Wrap(Error error, const std::string& context) {
  return Error{context + ": " + error.message};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}        // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Precondition: ok(). Calling value() on an error is a bug.
  T& value() &;
  const T& value() const&;
  T&& value() &&;
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // Precondition: !ok().
  const Error& error() const;
  const std::string& message() const { return error().message; }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const;
  const std::string& message() const { return error().message; }

 private:
  Error error_;
  bool ok_ = true;
};

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* expr,
                                     const std::string& detail) {
  std::fprintf(stderr, "simtune: internal error at %s:%d: check failed: %s %s\n", file, line,
               expr, detail.c_str());
  std::abort();
}

}  // namespace simtune

// Aborts on a broken invariant. Never use for conditions a user can trigger.
#define SIMTUNE_CHECK(cond)                                              \
  do {                                                                   \
    if (!(cond)) ::simtune::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)
#define SIMTUNE_CHECK_MSG(cond, msg)                                        \
  do {                                                                      \
    if (!(cond)) ::simtune::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

// Propagates an error: SIMTUNE_ASSIGN_OR_RETURN(auto x, Foo());
#define SIMTUNE_CONCAT_INNER(a, b) a##b
#define SIMTUNE_CONCAT(a, b) SIMTUNE_CONCAT_INNER(a, b)
#define SIMTUNE_ASSIGN_OR_RETURN(decl, expr)                     \
  auto SIMTUNE_CONCAT(simtune_r_, __LINE__) = (expr);            \
  if (!SIMTUNE_CONCAT(simtune_r_, __LINE__).ok())                \
    return SIMTUNE_CONCAT(simtune_r_, __LINE__).error();         \
  decl = std::move(SIMTUNE_CONCAT(simtune_r_, __LINE__)).value()
#define SIMTUNE_RETURN_IF_ERROR(expr)                   \
  do {                                                  \
    auto simtune_s_ = (expr);                           \
    if (!simtune_s_.ok()) return simtune_s_.error();    \
  } while (0)

namespace simtune {

template <class T>
T& Result<T>::value() & {
  SIMTUNE_CHECK_MSG(ok(), std::get<1>(v_).message);
  return std::get<0>(v_);
}
template <class T>
const T& Result<T>::value() const& {
  SIMTUNE_CHECK_MSG(ok(), std::get<1>(v_).message);
  return std::get<0>(v_);
}
template <class T>
T&& Result<T>::value() && {
  SIMTUNE_CHECK_MSG(ok(), std::get<1>(v_).message);
  return std::get<0>(std::move(v_));
}
template <class T>
const Error& Result<T>::error() const {
  SIMTUNE_CHECK(!ok());
  return std::get<1>(v_);
}
inline const Error& Status::error() const {
  SIMTUNE_CHECK(!ok_);
  return error_;
}

}  // namespace simtune

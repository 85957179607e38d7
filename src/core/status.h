// Status and Result<T>: the error model of every subsystem API (not of Asio handlers, which use error_code).
//
// A Status is either OK or a category plus a human-readable message. Callers test categories with the
// IsX() predicates and pass message() on to people (logs, JSON errors); they never parse the message.
// Thread-safety: a const Status/Result may be read from many threads; mutation needs external locking.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace iotstream {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // the caller's input is malformed (HTTP 400)
    kUnsupported,      // well-formed but of a kind we do not take, e.g. a content type (415)
    kTooLarge,         // over a configured size limit (413)
    kNotFound,         // the named thing does not exist (404)
    kConflict,         // clashes with what exists, e.g. a name already taken (409)
    kUnavailable,      // temporarily cannot take it (queue full, shutting down); retry later (503)
    kTimeout,          // did not finish in the allotted time (504)
    kIOError,          // the disk or the OS failed (500)
    kInternal,         // a broken invariant (500)
  };

  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnsupported() const { return code_ == Code::kUnsupported; }
  bool IsTooLarge() const { return code_ == Code::kTooLarge; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsTimeout() const { return code_ == Code::kTimeout; }
  bool IsIOError() const { return code_ == Code::kIOError; }

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok", or "<category>: <message>", for logs.
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. REQUIRES: value() only when ok(); status() is OK when ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {         // NOLINT: REQUIRES !status.ok()
    // An OK status here would make a Result that is neither a value nor an error: a caller's bug.
    assert(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace iotstream

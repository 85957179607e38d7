#include "cluster/pg.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/clock.h"

namespace iotstream::cluster::pg {
namespace {

// libpq's messages end with a newline (and sometimes hold several lines); one line reads better in logs and JSON.
std::string OneLine(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

void Rows::Free::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return PQntuples(result_.get()); }

std::optional<std::string> Rows::Get(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return std::nullopt;
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

std::string Rows::Text(int row, int column) const { return Get(row, column).value_or(""); }

int64_t Int(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url) {
  // The URI is expanded into its parts (expand_dbname) after the defaults before it, so its own settings win.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"2", "iotstream", url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status::Unavailable("postgresql: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    Status st = Status::Unavailable("postgresql: " + OneLine(PQerrorMessage(conn)));
    PQfinish(conn);
    return st;
  }
  // Notices (e.g. "relation already exists, skipping") would go to stderr unasked.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { Abandon(); }

bool Connection::healthy() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

void Connection::Abandon() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool Connection::AwaitResult(int64_t deadline_us, Status* why) {
  while (PQisBusy(conn_)) {
    const int64_t left_ms = (deadline_us - MonotonicUs()) / 1000;
    if (left_ms <= 0) {
      *why = Status::Timeout("postgresql: no answer within " + std::to_string(deadline_ms_) + " ms");
      return false;
    }
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    const int n = poll(&pfd, 1, static_cast<int>(left_ms));
    if (n < 0 && errno != EINTR) {
      *why = Status::Unavailable(std::string("postgresql: poll: ") + std::strerror(errno));
      return false;
    }
    if (n > 0 && PQconsumeInput(conn_) == 0) {
      *why = Status::Unavailable("postgresql: " + OneLine(PQerrorMessage(conn_)));
      return false;
    }
  }
  return true;
}

Result<Rows> Connection::Exec(const std::string& sql, const std::vector<std::string>& params) {
  if (conn_ == nullptr) return Status::Unavailable("postgresql: the connection was closed after an earlier failure");
  int sent = 0;
  if (params.empty()) {
    sent = PQsendQuery(conn_, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  }
  if (sent == 0) {
    Status st = Status::Unavailable("postgresql: " + OneLine(PQerrorMessage(conn_)));
    Abandon();
    return st;
  }
  // Several statements give one result each: the first failure is the answer, else the last statement's rows.
  const int64_t deadline_us = MonotonicUs() + deadline_ms_ * 1000;
  std::optional<Rows> last;
  Status failed;
  while (true) {
    Status lost;
    if (!AwaitResult(deadline_us, &lost)) {
      Abandon();
      return lost;
    }
    pg_result* r = PQgetResult(conn_);
    if (r == nullptr) break;
    Rows rows(r);
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && failed.ok()) {
      const std::string message = "postgresql: " + OneLine(PQresultErrorMessage(r));
      failed = healthy() ? Status::Internal(message) : Status::Unavailable(message);
    }
    last = std::move(rows);
  }
  if (!healthy()) {
    Abandon();
    return failed.ok() ? Status::Unavailable("postgresql: the connection was lost") : failed;
  }
  if (!failed.ok()) return failed;
  if (!last) return Status::Internal("postgresql: no result for '" + sql + "'");
  return std::move(*last);
}

Result<std::vector<Notification>> Connection::AwaitNotifications(int64_t timeout_ms) {
  if (conn_ == nullptr) return Status::Unavailable("postgresql: the connection was closed after an earlier failure");
  std::vector<Notification> out;
  auto take = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back({n->relname, n->extra});
      PQfreemem(n);
    }
  };
  take();
  if (!out.empty()) return out;
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  const int n = poll(&pfd, 1, static_cast<int>(timeout_ms));
  if (n < 0 && errno != EINTR) return Status::Unavailable(std::string("postgresql: poll: ") + std::strerror(errno));
  if (n > 0 && (PQconsumeInput(conn_) == 0 || !healthy())) {
    Status st = Status::Unavailable("postgresql: " + OneLine(PQerrorMessage(conn_)));
    Abandon();
    return st;
  }
  take();
  return out;
}

Status Connection::Run(const std::string& sql, const std::vector<std::string>& params) {
  auto r = Exec(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace iotstream::cluster::pg

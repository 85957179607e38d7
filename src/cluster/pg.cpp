#include "cluster/pg.h"

#include <libpq-fe.h>

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

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url) {
  // The URI is expanded into its parts (expand_dbname) after the defaults before it, so its own settings win.
  // tcp_user_timeout and the keepalives end a statement sent to a server that vanished (a dead host, a cable),
  // which a plain socket would wait on for minutes.
  const char* keys[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "application_name", "dbname", nullptr};
  const char* values[] = {"2", "3000", "2", "1", "2", "iotstream", url.c_str(), nullptr};
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

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

Result<Rows> Connection::Exec(const std::string& sql, const std::vector<std::string>& params) {
  pg_result* r = nullptr;
  if (params.empty()) {
    r = PQexec(conn_, sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                     0);
  }
  Rows rows(r);
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const std::string message = OneLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (!healthy()) return Status::Unavailable("postgresql: " + message);
  return Status::Internal("postgresql: " + message);
}

Status Connection::Run(const std::string& sql, const std::vector<std::string>& params) {
  auto r = Exec(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace iotstream::cluster::pg

// What both libpq wrappers (PgConnection, ReplicationConnection) need: a PGresult that frees
// itself, and libpq's messages without their trailing newline.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace dhanbak::pg {

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

inline std::string TrimMessage(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace dhanbak::pg

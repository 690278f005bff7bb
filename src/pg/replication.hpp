// ReplicationConnection — a physical replication connection (libpq `replication=true`), the
// way pg_basebackup talks to the server: IDENTIFY_SYSTEM, SHOW and BASE_BACKUP. dhanbak needs
// no file access to the data directory, only a role with the REPLICATION attribute and a
// `replication` line in pg_hba.conf. Errors throw Error(kPg) with the server's message; the
// conninfo (which may hold a password) never appears in messages.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

typedef struct pg_conn PGconn;

namespace dhanbak::pg {

// "16/B374D848" → its 64-bit position; throws Error(kPg) on anything else.
uint64_t ParseLsn(std::string_view lsn);
std::string FormatLsn(uint64_t lsn);

struct SystemIdentity {
  std::string system_identifier;  // decimal, as the server prints it
  uint32_t timeline = 0;
  std::string wal_position;
};

struct TablespaceInfo {
  std::string oid;       // "" for the main data directory
  std::string location;  // absolute path on the server; "" for the main data directory
  int64_t size = -1;     // bytes, -1 when not estimated
};

struct BaseBackupStart {
  std::string start_lsn;
  uint32_t timeline = 0;
  std::vector<TablespaceInfo> tablespaces;
};

struct BaseBackupEnd {
  std::string stop_lsn;
  uint32_t timeline = 0;
};

// What the server sends during BASE_BACKUP (PostgreSQL 15 and later: one COPY stream).
struct BaseBackupSink {
  std::function<void(const std::string& archive, const std::string& tablespace_path)> new_archive;
  std::function<void(std::string_view data)> archive_data;
  std::function<void()> manifest_start;
  std::function<void(std::string_view data)> manifest_data;
};

class ReplicationConnection {
 public:
  explicit ReplicationConnection(const std::string& conninfo);
  ~ReplicationConnection();
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  int server_version_num() const;
  SystemIdentity IdentifySystem();
  std::string Show(const std::string& setting);

  // BASE_BACKUP with a fast checkpoint, the server's backup_manifest (CRC32C checksums), and
  // without waiting for WAL archiving (the caller waits for the WAL in its own repository).
  BaseBackupStart StartBaseBackup(const std::string& label);
  // Reads the COPY stream to its end, calling `sink`. `interrupted` is polled between messages.
  void ReadBaseBackup(const BaseBackupSink& sink, const std::function<bool()>& interrupted);
  BaseBackupEnd FinishBaseBackup();

 private:
  [[noreturn]] void Fail(const std::string& what) const;
  PGconn* conn_ = nullptr;
};

}  // namespace dhanbak::pg

// Manifest — the record of one finished backup (docs/repository-format.md §Manifests).
// A backup exists only once its manifest is stored; everything a restore needs is in it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dhanbak::format {

// A byte stream stored as an ordered list of chunks.
struct StreamRef {
  int64_t bytes = 0;                // plaintext length
  std::string sha256;               // of the exact plaintext stream
  std::vector<std::string> chunks;  // chunk ids, in stream order
  // Parallel to `chunks`, or empty when every chunk is stored whole: the base chunk of each one
  // stored as a delta ("" for a whole one). Readers need the base; prune keeps it.
  std::vector<std::string> bases;
  // Parallel to `chunks`, or empty: a short keyed hash of each chunk's first row, which the next
  // backup uses to find the previous night's chunk of the same rows to store a delta against.
  std::vector<std::string> anchors;

  const std::string& BaseOf(size_t i) const;
  bool HasDeltas() const;  // some chunk is stored as a delta
  // Every chunk id the stream needs stored: its chunks and their bases.
  std::vector<std::string> NeededChunks() const;
};

struct TableEntry {
  std::string schema;
  std::string name;
  std::vector<std::string> columns;  // COPY column list (no dropped or generated columns)
  char persistence = 'p';            // pg_class.relpersistence
  int64_t rows = 0;
  StreamRef data;                    // the COPY ... TO STDOUT text stream
  std::string oid;                   // pg_class oid in the source (matches the schema archive)
  std::vector<std::string> layout;   // column layout (pg/table_layout.hpp); empty in old manifests
  std::string definition;            // replaces the archive's TABLE entry when non-empty
};

struct RoleSetting {
  std::string role;  // empty: ALTER DATABASE ... SET; else ALTER ROLE role IN DATABASE ... SET
  std::vector<std::string> settings;  // "name=value" as in pg_db_role_setting.setconfig
};

struct DatabaseProperties {
  std::string encoding;        // pg_encoding_to_char(encoding)
  std::string collate;         // datcollate
  std::string ctype;           // datctype
  std::string locale_provider; // "c" (libc), "i" (icu) or "b" (builtin, 17 on)
  std::string icu_locale;      // daticulocale (datlocale from 17 on), empty for libc
  std::string icu_rules;       // daticurules (16 on), empty when none
  std::string owner;
  int connection_limit = -1;
  std::string acl;             // datacl as text, empty = default
  std::string comment;
  bool has_comment = false;
  std::vector<RoleSetting> settings;
};

// Taken on a hot standby: how far its replay had come when the snapshot was taken.
struct StandbySource {
  std::string replay_lsn;          // pg_last_wal_replay_lsn()
  std::string receive_lsn;         // pg_last_wal_receive_lsn(), empty when not streaming
  int64_t last_replay_at = 0;      // UnixMicros of the last replayed commit, 0 if none yet
  double replay_lag_seconds = 0;   // 0 when everything received was replayed
};

struct Manifest {
  int format = 1;
  std::string backup_id;
  std::string database;
  int64_t started_at = 0;      // UnixMicros
  int64_t snapshot_time = 0;   // UnixMicros: the consistent point of the backup
  int64_t finished_at = 0;     // UnixMicros
  std::string server_version;  // e.g. "15.18"
  int server_version_num = 0;
  std::string pg_dump_version;
  DatabaseProperties properties;
  StreamRef schema;   // pg_dump -Fc archive of everything but table data
  StreamRef globals;  // pg_dumpall --globals-only of the cluster, empty if not captured
  std::vector<TableEntry> tables;
  std::optional<StandbySource> standby;  // set when backed up from a hot standby

  int64_t TotalRows() const;
  int64_t LogicalBytes() const;  // tables + schema + globals
};

std::string ManifestToJson(const Manifest& m);
// Throws Error(kCorruption) on malformed input.
Manifest ManifestFromJson(const std::string& json);

}  // namespace dhanbak::format

#include "command/export.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "command/restore.hpp"
#include "common/log.hpp"
#include "common/temp_dir.hpp"
#include "common/time_spec.hpp"
#include "dhanbak/error.hpp"
#include "pg/connection.hpp"
#include "pg/database_properties.hpp"
#include "pg/pg_tools.hpp"
#include "pg/rebuilt_tables.hpp"
#include "pg/source_catalog.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {
namespace {

constexpr char kDbPlaceholder[] = "__dhanbak_current_database__";

// The export file: a plaintext dump, so it is created 0600 whatever the umask, written under a
// temporary name in the same directory and moved into place only when complete. An existing
// file is never overwritten unless --force.
class Output {
 public:
  Output(const std::string& path, bool force) : path_(path), force_(force) {
    if (path_ == "-") return;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::kInvalidArgument, "export: '" + path_ + "' is a directory");
      if (!force_) {
        throw Error(ErrorCode::kInvalidArgument,
                    "export: '" + path_ + "' already exists; pass --force to overwrite it, or choose another file");
      }
    }
    std::string dir = std::filesystem::path(path_).parent_path().string();
    std::string name = std::filesystem::path(path_).filename().string();
    tmp_ = (dir.empty() ? std::string() : dir + "/") + "." + name + ".dhanbak-XXXXXX";
    int fd = ::mkstemp(tmp_.data());  // mode 0600
    if (fd < 0) {
      int err = errno;
      tmp_.clear();
      throw Error(ErrorCode::kIo, "cannot write '" + path_ + "': " + std::strerror(err));
    }
    ::close(fd);
    file_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!file_) {
      ::unlink(tmp_.c_str());
      tmp_.clear();
      throw Error(ErrorCode::kIo, "cannot write '" + path_ + "'");
    }
  }
  ~Output() { Discard(); }
  std::ostream& stream() { return path_ == "-" ? std::cout : file_; }
  void Write(std::string_view d) { stream().write(d.data(), static_cast<std::streamsize>(d.size())); }
  void Copy(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    stream() << in.rdbuf();
  }
  void Close() {
    stream().flush();
    if (path_ == "-") {
      if (!stream()) throw Error(ErrorCode::kIo, "cannot write to standard output");
      return;
    }
    file_.close();
    if (!file_) throw Error(ErrorCode::kIo, "cannot write '" + path_ + "' (is the disk full?)");
    if (force_) {
      if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        throw Error(ErrorCode::kIo, "cannot rename into '" + path_ + "': " + std::strerror(errno));
      }
    } else if (::link(tmp_.c_str(), path_.c_str()) == 0) {
      // link() fails if the name appeared meanwhile: still never an overwrite.
      ::unlink(tmp_.c_str());
    } else if (errno == EEXIST) {
      throw Error(ErrorCode::kInvalidArgument,
                  "export: '" + path_ + "' appeared while exporting; pass --force to overwrite it");
    } else {
      throw Error(ErrorCode::kIo, "cannot create '" + path_ + "': " + std::strerror(errno));
    }
    tmp_.clear();
  }
  void Discard() {
    if (path_ != "-" && !tmp_.empty()) {
      if (file_.is_open()) file_.close();
      ::unlink(tmp_.c_str());
      tmp_.clear();
    }
  }

 private:
  std::string path_;
  bool force_;
  std::string tmp_;  // the file being written; empty once moved into place or discarded
  std::ofstream file_;
};

}  // namespace

int RunExport(Context& ctx, const ExportOptions& o) {
  if (o.output.empty()) throw Error(ErrorCode::kInvalidArgument, "export needs -o FILE (or -o - for stdout)");
  if (ctx.options().json && o.output == "-") {
    throw Error(ErrorCode::kInvalidArgument, "--json cannot be used with -o - (standard output is the SQL script)");
  }
  Output out(o.output, o.force);  // refuses an existing file before anything else happens
  auto locks = ctx.Lock(LockMode::kShared);
  catalog::BackupRecord backup = SelectBackup(ctx, o.database, o.at, o.backup_id);
  format::Manifest m = FetchManifest(ctx, backup);
  log::Info("exporting " + o.database + " backup " + backup.backup_id + " as plain SQL to " +
            (o.output == "-" ? std::string("standard output") : o.output));
  TempDir tmp;
  stream::ChunkFetcher fetcher(ctx.repository(), 4, 4);
  std::string archive = tmp.path() + "/schema.dump";
  fetcher.StreamToFile(m.schema, "schema archive", archive);
  int version = m.server_version_num;
  // Tables whose column order pg_dump's script would change.
  std::map<std::string, std::string> definitions = pg::TableDefinitions(m.tables);
  if (definitions.empty()) {
    pg::ArchiveToScript(version, archive, tmp.path() + "/pre-data.sql", "pre-data");
  } else {
    pg::PreDataScriptWithDefinitions(version, archive, definitions, tmp.path(), tmp.path() + "/pre-data.sql");
  }
  for (const char* section : {"data", "post-data"}) {
    pg::ArchiveToScript(version, archive, tmp.path() + "/" + section + ".sql", section);
  }

  try {
    const auto& p = m.properties;
    out.stream() << "--\n-- dhanbak export of database " << m.database << ", backup " << m.backup_id << " taken "
                 << FormatUtcIso(m.snapshot_time) << " (PostgreSQL " << m.server_version << ")\n"
                 << "--\n-- Restore with psql alone, into a new empty database created like the original:\n"
                 << "--   createdb --template=template0 --encoding=" << p.encoding
                 << (p.locale_provider == "i" ? " --locale-provider=icu --icu-locale=" + p.icu_locale : std::string())
                 << (p.icu_rules.empty() ? std::string() : " --icu-rules='" + p.icu_rules + "'")
                 << (p.locale_provider == "b" ? " --locale-provider=builtin --builtin-locale=" + p.icu_locale : std::string())
                 << " --lc-collate=" << p.collate << " --lc-ctype=" << p.ctype << " NEWDB\n"
                 << "--   psql -X -v ON_ERROR_STOP=1 -d NEWDB -f THIS_FILE\n"
                 << "-- Roles must exist first (pg_dumpall --globals-only of the old server, or dhanbak restore --globals).\n--\n\n";
    out.Copy(tmp.path() + "/pre-data.sql");
    // Table data exactly as backed up: the database's encoding and dhanbak's session settings.
    // Names are UTF-8; each COPY names the database encoding its bytes are in.
    out.stream() << "\n-- table data\nSET client_encoding = 'UTF8';\n"
                 << "SET DateStyle = 'ISO, YMD';\nSET IntervalStyle = 'postgres';\nSET extra_float_digits = 3;\n"
                 << "SET TimeZone = 'UTC';\nSET lc_monetary = 'C';\nSET xmloption = content;\n"
                 << "SET standard_conforming_strings = on;\nSET row_security = off;\nSET search_path = '';\n\n";
    for (const auto& t : m.tables) {
      out.stream() << "COPY " << pg::QualifiedName(t.schema, t.name);
      if (!t.columns.empty()) {
        out.stream() << " (";
        for (size_t i = 0; i < t.columns.size(); ++i) out.stream() << (i ? ", " : "") << pg::QuoteIdent(t.columns[i]);
        out.stream() << ")";
      }
      out.stream() << " FROM stdin WITH (ENCODING " << pg::QuoteLiteral(p.encoding) << ");\n";
      fetcher.Stream(t.data, "table " + t.schema + "." + t.name, [&](std::string_view d) { out.Write(d); });
      out.stream() << "\\.\n\n";
    }
    out.Copy(tmp.path() + "/data.sql");
    out.Copy(tmp.path() + "/post-data.sql");
    out.stream() << "\n-- database-level properties, applied to the database this script runs in\n"
                 << "SELECT pg_catalog.current_database() AS dhanbak_db \\gset\n";
    std::string placeholder = pg::QuoteIdent(kDbPlaceholder);
    for (std::string sql : pg::DatabasePropertiesSql(kDbPlaceholder, p)) {
      for (size_t pos; (pos = sql.find(placeholder)) != std::string::npos;) sql.replace(pos, placeholder.size(), ":\"dhanbak_db\"");
      out.stream() << sql << ";\n";
    }
    out.Close();
  } catch (...) {
    out.Discard();
    throw;
  }
  if (o.output != "-") std::cerr << "exported " << o.database << " (backup " << m.backup_id << ") to " << o.output << "\n";
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"database", o.database}, {"backup_id", m.backup_id}, {"output", o.output}, {"ok", true}}
                     .dump(2)
              << "\n";
  }
  return 0;
}

}  // namespace dhanbak::command

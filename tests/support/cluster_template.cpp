#include "support/cluster_template.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <vector>

#include "support/pg_cluster.hpp"
#include "support/process.hpp"
#include "support/temp_root.hpp"

namespace dhanbak::test {
namespace {

namespace fs = std::filesystem;

// CRC-32C (Castagnoli, reflected), as PostgreSQL's pg_crc32c computes it.
std::uint32_t Crc32c(const unsigned char* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::vector<unsigned char> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes in place, so that the file keeps its owner and mode.
void WriteAt(const std::string& path, std::size_t offset, const void* data, std::size_t size) {
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(offset));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// One template per server binary (its path, size and time: a reinstalled server gets a new one)
// and segment size.
std::string TemplateDir(const std::string& bindir, int wal_segment_mb) {
  struct stat st{};
  const std::string postgres = bindir + "/postgres";
  if (stat(postgres.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + postgres + ": " + std::strerror(errno));
  const std::string identity = postgres + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtime) + "|" +
                               std::to_string(wal_segment_mb);
  char key[17];
  std::snprintf(key, sizeof key, "%016zx", std::hash<std::string>{}(identity));
  return TestTempRoot() + "/dhanbak-pg-template-" + std::to_string(wal_segment_mb) + "mb-" + key;
}

void MakeTemplate(const std::string& bindir, const std::string& template_dir, int wal_segment_mb) {
  // initdb into a directory of our own, then rename it into place: a test process that loses the
  // race to another removes its copy, and nobody ever sees a half-made template.
  const std::string scratch = MakeTestTempDir("dhanbak-pg-template-new");
  try {
    GiveToServerUser(scratch);
    ProcessOptions options;
    options.cwd = scratch;  // the postgres user may not be able to enter the test's cwd
    options.unset_env = {"PGDATA", "PGPORT", "PGHOST", "PGOPTIONS"};
    options.env = {{"LC_ALL", "C.UTF-8"}};
    options.timeout = std::chrono::minutes(2);
    RunOrThrow(AsServerUser({bindir + "/initdb", "-D", scratch + "/data", "-A", "trust", "-U", "postgres",
                             "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
                             "--wal-segsize=" + std::to_string(wal_segment_mb)}),
               options);
    if (rename(scratch.c_str(), template_dir.c_str()) != 0) {
      if (errno != EEXIST && errno != ENOTEMPTY) {
        throw std::runtime_error("rename " + scratch + " to " + template_dir + ": " + std::strerror(errno));
      }
      fs::remove_all(scratch);
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    throw;
  }
}

// Gives a stopped cluster's data directory a new random system identifier: in global/pg_control
// (its CRC recomputed) and in the first page header of every WAL segment in pg_wal that carries
// the old one.
void GiveClusterNewSystemIdentifier(const std::string& data_dir) {
  const std::string control_path = data_dir + "/global/pg_control";
  std::vector<unsigned char> control = ReadAll(control_path);
  // ControlFileData starts with the system identifier and ends with a CRC-32C of everything before
  // it. Its size differs between PostgreSQL versions, so find the CRC instead of assuming it.
  std::size_t crc_offset = 0;
  for (std::size_t at = 16; at + 4 <= control.size() && at <= 1024; at += 4) {
    std::uint32_t stored;
    std::memcpy(&stored, control.data() + at, 4);
    if (stored == Crc32c(control.data(), at)) {
      crc_offset = at;
      break;
    }
  }
  if (crc_offset == 0) throw std::runtime_error(control_path + ": no CRC found, not a PostgreSQL control file");
  std::uint64_t old_id;
  std::memcpy(&old_id, control.data(), 8);

  // As initdb makes one: the time in the high half; the low half random, not the process id, since
  // one test process makes many clusters within a second.
  std::random_device random;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  std::uint64_t new_id = (static_cast<std::uint64_t>(seconds) << 32) | random();
  if (new_id == old_id) new_id ^= 1;

  std::memcpy(control.data(), &new_id, 8);
  const std::uint32_t crc = Crc32c(control.data(), crc_offset);
  WriteAt(control_path, 0, &new_id, 8);
  WriteAt(control_path, crc_offset, &crc, 4);

  // A segment's first page has the long header: magic, info, timeline, page address, remaining
  // length (20 bytes, aligned to 24), then the system identifier, which recovery checks against
  // pg_control's. The page headers are outside every record's CRC.
  constexpr std::size_t kSysidOffset = 24;
  for (const auto& entry : fs::directory_iterator(data_dir + "/pg_wal")) {
    if (!entry.is_regular_file() || entry.path().filename().string().size() != 24) continue;
    std::uint64_t in_segment = 0;
    {
      std::ifstream in(entry.path(), std::ios::binary);
      in.seekg(kSysidOffset);
      in.read(reinterpret_cast<char*>(&in_segment), 8);
      if (!in) continue;
    }
    if (in_segment == old_id) WriteAt(entry.path().string(), kSysidOffset, &new_id, 8);
  }
}

}  // namespace

void InitClusterFromTemplate(const std::string& bindir, const std::string& data_dir, int wal_segment_mb) {
  const std::string template_dir = TemplateDir(bindir, wal_segment_mb);
  if (!fs::exists(template_dir + "/data/global/pg_control")) MakeTemplate(bindir, template_dir, wal_segment_mb);
  ProcessOptions options;
  options.cwd = fs::path(data_dir).parent_path().string();
  options.timeout = std::chrono::minutes(2);
  RunOrThrow(AsServerUser({"cp", "-a", template_dir + "/data", data_dir}), options);
  GiveClusterNewSystemIdentifier(data_dir);
}

}  // namespace dhanbak::test

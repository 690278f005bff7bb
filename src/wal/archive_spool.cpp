#include "wal/archive_spool.hpp"

#include <unistd.h>

#include <cstdlib>

#include <cstring>
#include <filesystem>

#include "common/file_io.hpp"
#include "common/log.hpp"
#include "common/private_fs.hpp"
#include "format/crypto.hpp"

namespace dhanbak::wal {
namespace {

constexpr char kAckSuffix[] = ".ok";
constexpr char kErrorSuffix[] = ".error";

}  // namespace

ArchiveSpool::ArchiveSpool(const std::string& spool_dir, std::string repository_url)
    : dir_(spool_dir + "/archive"), repository_url_(std::move(repository_url)) {}

void ArchiveSpool::Prepare() const { CreatePrivateDirectories(dir_, ErrorCode::kIo, "[pitr] spool_dir " + dir_); }

std::string ArchiveSpool::AckText(std::string_view content) const {
  return "dhanbak-ack 1\n" + repository_url_ + "\n" + crypto::Sha256Hex(content) + "\n" +
         std::to_string(content.size()) + "\n";
}

void ArchiveSpool::WriteAck(const std::string& file, std::string_view content) const {
  WriteFileAtomically(dir_ + "/" + file + kAckSuffix, AckText(content), 0600, false);
}

bool ArchiveSpool::HasAck(const std::string& file) const {
  return ::access((dir_ + "/" + file + kAckSuffix).c_str(), F_OK) == 0;
}

bool ArchiveSpool::AckMatches(const std::string& file, std::string_view content) const {
  const std::string path = dir_ + "/" + file + kAckSuffix;
  auto ack = ReadFileIfExists(path);
  if (!ack) return false;
  if (*ack == AckText(content)) return true;
  ::unlink(path.c_str());
  return false;
}

void ArchiveSpool::WriteError(const std::string& file, ErrorCode code, const std::string& message) const {
  WriteFileAtomically(dir_ + "/" + file + kErrorSuffix, std::to_string(static_cast<int>(code)) + "\n" + message, 0600,
                      false);
}

std::optional<std::pair<ErrorCode, std::string>> ArchiveSpool::ConsumeError(const std::string& file) const {
  const std::string path = dir_ + "/" + file + kErrorSuffix;
  auto text = ReadFileIfExists(path);
  if (!text) return std::nullopt;
  ::unlink(path.c_str());
  size_t nl = text->find('\n');
  int code = nl == std::string::npos ? 0 : std::atoi(text->substr(0, nl).c_str());
  if (code <= 0) return std::pair{ErrorCode::kIo, *text};
  return std::pair{static_cast<ErrorCode>(code), text->substr(nl + 1)};
}

void ArchiveSpool::RecordGivenUp(const std::string& file) const {
  try {
    Prepare();
    std::string list = ReadFileIfExists(dir_ + "/given-up").value_or("");
    WriteFileAtomically(dir_ + "/given-up", list + file + "\n", 0600, true);
  } catch (const std::exception& e) {
    log::Error("cannot record in the spool that WAL file " + file + " was given up: " + e.what());
  }
}

std::vector<std::string> ArchiveSpool::TakeGivenUp() const {
  const std::string path = dir_ + "/given-up";
  const std::string taken = path + ".taking";
  std::vector<std::string> files;
  if (::rename(path.c_str(), taken.c_str()) != 0) return files;
  std::string text = ReadFileIfExists(taken).value_or("");
  ::unlink(taken.c_str());
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; start = nl + 1, nl = text.find('\n', start)) {
    if (nl > start) files.push_back(text.substr(start, nl - start));
  }
  return files;
}

std::string ArchiveSpool::LastLogLine() const {
  std::string log = ReadFileIfExists(log_path()).value_or("");
  while (!log.empty() && log.back() == '\n') log.pop_back();
  return log.substr(log.rfind('\n') == std::string::npos ? 0 : log.rfind('\n') + 1);
}

void ArchiveSpool::RemoveSettled(const std::set<std::string>& ready) const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    for (const char* suffix : {kAckSuffix, kErrorSuffix}) {
      if (name.ends_with(suffix) && ready.count(name.substr(0, name.size() - std::strlen(suffix))) == 0) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
  }
}

}  // namespace dhanbak::wal

#include "wal/fetch_spool.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/file_io.hpp"
#include "common/private_fs.hpp"
#include "dhanbak/error.hpp"
#include "format/crypto.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::wal {
namespace {

namespace fs = std::filesystem;
constexpr char kWanted[] = "wanted";
constexpr char kPlan[] = "plan";

}  // namespace

FetchSpool::FetchSpool(const std::string& spool_dir, const std::string& repository_url)
    : dir_(spool_dir + "/restore-" + crypto::Sha256Hex(repository_url).substr(0, 16)) {}

void FetchSpool::Prepare() const { CreatePrivateDirectories(dir_, ErrorCode::kIo, "[pitr] spool_dir " + dir_); }

bool FetchSpool::Take(const std::string& file, const std::string& dest) const {
  const std::string path = dir_ + "/" + file;
  if (::rename(path.c_str(), dest.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  if (errno != EXDEV) throw Error(ErrorCode::kIo, "cannot move " + path + " to " + dest + ": " + ErrnoMessage(errno));
  auto content = ReadFileIfExists(path);
  if (!content) return false;
  WriteFileAtomically(dest, *content, 0600, false);
  ::unlink(path.c_str());
  return true;
}

bool FetchSpool::Has(const std::string& file) const { return ::access((dir_ + "/" + file).c_str(), F_OK) == 0; }

void FetchSpool::Put(const std::string& file, std::string_view content) const {
  WriteFileAtomically(dir_ + "/" + file, content, 0600, false);
}

void FetchSpool::Trim(const std::set<std::string>& keep) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (WalFile::Parse(name) && keep.count(name) == 0) fs::remove(entry.path(), ec);
    // A worker killed while writing leaves its temporary file behind.
    if (name.find(".tmp.") != std::string::npos &&
        fs::last_write_time(entry.path(), ec) < fs::file_time_type::clock::now() - std::chrono::minutes(10)) {
      fs::remove(entry.path(), ec);
    }
  }
}

void FetchSpool::SetWanted(const std::string& file) const { WriteFileAtomically(dir_ + "/" + kWanted, file, 0600, false); }

std::string FetchSpool::Wanted() const { return ReadFileIfExists(dir_ + "/" + kWanted).value_or(""); }

void FetchSpool::SetPlan(const std::vector<std::string>& files) const {
  std::string text;
  for (const std::string& f : files) text += f + "\n";
  WriteFileAtomically(dir_ + "/" + kPlan, text, 0600, false);
}

std::set<std::string> FetchSpool::Plan() const {
  std::set<std::string> plan;
  std::istringstream in(ReadFileIfExists(dir_ + "/" + kPlan).value_or(""));
  for (std::string line; std::getline(in, line);) plan.insert(line);
  return plan;
}

}  // namespace dhanbak::wal

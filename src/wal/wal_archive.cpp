#include "wal/wal_archive.hpp"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/host_name.hpp"
#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "format/sealed_object.hpp"

namespace dhanbak::wal {
namespace {

constexpr char kIdentityName[] = "wal/cluster";

std::string IdentityText(const ArchiveIdentity& id) {
  nlohmann::json j = {{"format", 1},
                      {"system_identifier", std::to_string(id.system_identifier)},
                      {"wal_segment_size", id.segment_size},
                      {"recorded_by", HostName()}};
  return j.dump();
}

ArchiveIdentity ParseIdentity(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    ArchiveIdentity id;
    id.system_identifier = std::stoull(j.at("system_identifier").get<std::string>());
    id.segment_size = j.at("wal_segment_size").get<uint32_t>();
    return id;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorruption, std::string("object '") + kIdentityName + "' is malformed: " + e.what());
  }
}

}  // namespace

std::vector<std::string> WalArchive::StoredHashes(const WalFile& file) const {
  std::set<std::string> hashes;
  repository_.storage().ListVersions(file.ObjectPrefix(), [&](const std::string& name, const storage::ObjectVersion& v) {
    if (v.hide_marker) return;
    auto object = ParseWalObjectName(name);
    if (object && object->file.name == file.name) hashes.insert(object->content_hash);
  });
  return {hashes.begin(), hashes.end()};
}

void WalArchive::RecordGivenUp(const std::string& file) const {
  const std::string name = std::string(kGivenUpPrefix) + file;
  nlohmann::json j = {{"file", file}, {"recorded_by", HostName()}};
  repository_.storage().Put(name, repository_.SealWalObject(name, j.dump()));
}

std::optional<ArchiveIdentity> WalArchive::Identity() const {
  try {
    return ParseIdentity(repository_.ReadSealed(kIdentityName));
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;
    throw;
  }
}

void WalArchive::CheckIdentity(const WalFile& file, std::string_view content) {
  if (!file.HasPageHeader()) return;
  auto page = ReadPageIdentity(content);
  if (!page) {
    throw Error(ErrorCode::kCorruption, "WAL file " + file.name +
                                            " does not start with a WAL page header: it is not a WAL segment, or it "
                                            "is damaged; it was not archived");
  }
  std::lock_guard lock(identity_mu_);
  if (!identity_) {
    identity_ = Identity();
    if (!identity_) {
      identity_ = ArchiveIdentity{page->system_identifier, page->segment_size};
      repository_.storage().Put(kIdentityName, repository_.SealWalObject(kIdentityName, IdentityText(*identity_)));
      log::Info("the WAL archive now belongs to the cluster with system identifier " +
                std::to_string(page->system_identifier));
    }
  }
  if (page->system_identifier != identity_->system_identifier) {
    throw Error(ErrorCode::kCorruption,
                "WAL file " + file.name + " comes from the cluster with system identifier " +
                    std::to_string(page->system_identifier) + ", but this repository archives the WAL of cluster " +
                    std::to_string(identity_->system_identifier) +
                    "; it was not archived. Two clusters must not share one WAL archive: give this cluster its own "
                    "repository (a new initdb or pg_upgrade makes a new cluster)");
  }
}

WalArchive::PushOutcome WalArchive::Push(const WalFile& file, std::string_view content) {
  if (content.size() > format::kMaxObjectPlaintext) {
    throw Error(ErrorCode::kInvalidArgument, "WAL file " + file.name + " is larger than 1 GiB; it was not archived");
  }
  CheckIdentity(file, content);
  const std::string hash = repository_.ChunkId(content);
  auto stored = StoredHashes(file);
  for (const std::string& h : stored) {
    if (h == hash) return PushOutcome::kAlreadyArchived;
  }
  if (!stored.empty()) {
    throw Error(ErrorCode::kCorruption,
                "WAL file " + file.name + " is already archived with different content (object '" +
                    file.ObjectName(stored.front()) +
                    "'); the archived copy is kept and nothing was overwritten. Either two servers archive into this "
                    "repository as the same cluster (split brain: a restored copy or a promoted standby still "
                    "archiving), or this server's pg_wal is damaged. Find which server wrote it before going on");
  }
  const std::string name = file.ObjectName(hash);
  repository_.storage().Put(name, repository_.SealWalObject(name, content));
  return PushOutcome::kStored;
}

std::optional<std::string> WalArchive::Fetch(const WalFile& file) const {
  auto stored = StoredHashes(file);
  if (stored.empty()) return std::nullopt;
  if (stored.size() > 1) {
    throw Error(ErrorCode::kCorruption, "WAL file " + file.name + " is archived " + std::to_string(stored.size()) +
                                            " times with different content (objects '" + file.ObjectName(stored[0]) +
                                            "' and '" + file.ObjectName(stored[1]) +
                                            "'): two servers archived into this repository as one cluster; recovery "
                                            "cannot know which history to follow");
  }
  const std::string name = file.ObjectName(stored.front());
  std::string content = repository_.ReadSealed(name);
  if (repository_.ChunkId(content) != stored.front()) {
    throw Error(ErrorCode::kCorruption, "object '" + name + "' does not hold the WAL file it was archived as");
  }
  return content;
}

std::vector<WalFile> WalArchive::ArchivedAfter(const WalFile& file, size_t max) const {
  std::vector<WalFile> after;
  auto collect = [&](const std::string& dir) {
    repository_.storage().List(dir, [&](const storage::ObjectInfo& info) {
      auto object = ParseWalObjectName(info.name);
      if (after.size() >= max || !object || object->file.kind != WalFileKind::kSegment) return;
      if (object->file.name <= file.name || (!after.empty() && object->file.name == after.back().name)) return;
      after.push_back(std::move(object->file));
    });
  };
  collect(file.ObjectDir());
  if (after.size() < max && file.kind == WalFileKind::kSegment) {
    // The following log (a new directory every 4 GiB of 16 MiB segments).
    char next[17];
    std::snprintf(next, sizeof next, "%08X%08X", file.timeline,
                  static_cast<unsigned>(std::stoul(file.name.substr(8, 8), nullptr, 16) + 1));
    collect(std::string(kWalPrefix) + next + "/");
  }
  return after;
}

}  // namespace dhanbak::wal

#include "command/version_audit.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/interrupt.hpp"
#include "dhanbak/error.hpp"
#include "storage/b2/b2_url.hpp"

namespace dhanbak::command {
namespace {

using storage::ObjectVersion;

constexpr char kAuditChunksPrefix[] = "chunks/";
constexpr char kAuditManifestsPrefix[] = "manifests/";
constexpr char kAuditKeysPrefix[] = "keys/";

bool IsSealedName(const std::string& name) {
  return name.starts_with(kAuditChunksPrefix) || name.starts_with(kAuditManifestsPrefix) || name == "config" ||
         name.starts_with("wal/") || name.starts_with("basebackups/");
}

// The B2 command line that deletes version `id` of object `name`. The bucket's name of the
// object starts with the repository's prefix, which storage names leave out.
std::string DeleteVersionCommand(const std::string& url, const std::string& name, const std::string& id) {
  std::string full = name;
  if (url.starts_with("b2://")) {
    storage::b2::B2Location location = storage::b2::ParseB2Url(url);
    if (!location.prefix.empty()) full = location.prefix + "/" + name;
  }
  return "b2 delete-file-version " + full + " " + id;
}

// Records one name's versions (newest first) in the scan.
void AddToScan(VersionScan& scan, NamedVersions&& named) {
  const std::string& name = named.name;
  const auto& versions = named.versions;
  const auto uploads = std::count_if(versions.begin(), versions.end(), [](const ObjectVersion& v) { return !v.hide_marker; });
  if (uploads > 0 && name.starts_with(kAuditChunksPrefix)) scan.chunk_objects.insert(name);
  if (uploads > 0 && name.starts_with(kAuditManifestsPrefix)) {
    scan.manifest_ids.push_back(name.substr(std::string(kAuditManifestsPrefix).size()));
  }
  if (versions.front().hide_marker) scan.hidden.push_back(named);
  if (uploads > 1 && (IsSealedName(name) || name.starts_with(kAuditKeysPrefix))) scan.several.push_back(std::move(named));
}

// Version `id` of `name`, or nullopt when it was deleted meanwhile (a prune) or cannot be read:
// the latter is a problem of its own.
std::optional<std::string> ReadVersion(storage::Storage& storage, const std::string& name, const std::string& id,
                                       VersionFindings& findings) {
  ThrowIfInterrupted();
  try {
    return storage.GetVersion(name, id);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInterrupted) throw;
    if (e.code() != ErrorCode::kNotFound) {
      findings.problems.push_back("object '" + name + "': cannot read its version " + id + ": " + e.what());
    }
    return std::nullopt;
  }
}

bool Authenticates(const format::Repository& repo, const std::string& name, std::string_view sealed) {
  try {
    repo.OpenSealed(name, sealed);
    return true;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorruption) throw;
    return false;
  }
}

void AddForeign(VersionFindings& findings, const std::string& name, const std::string& id,
                const std::optional<std::string>& used, const std::string& why, const std::string& url) {
  const std::string recover = DeleteVersionCommand(url, name, id);
  findings.problems.push_back(
      "object '" + name + "' has a foreign version " + id + ": " + why + ", so dhanbak did not write it; " +
      (used ? "readers skip it and use version " + *used : std::string("no version of it authenticates")) +
      "; delete it with a key that has deleteFiles: " + recover);
  findings.foreign.push_back({{"name", name},
                              {"version_id", id},
                              {"used_version_id", used ? nlohmann::json(*used) : nlohmann::json(nullptr)},
                              {"recover", recover}});
}

// Readers use the newest version that authenticates. A failing version above it is foreign
// (only someone else puts versions over dhanbak's); one below it is a damaged copy that a backup
// stored again, harmless.
void AuditSealedVersions(const format::Repository& repo, const NamedVersions& named, const std::string& url,
                         VersionFindings& findings) {
  std::optional<std::string> used;
  std::vector<std::string> above, below;
  for (const ObjectVersion& v : named.versions) {
    if (v.hide_marker) continue;
    auto sealed = ReadVersion(repo.storage(), named.name, v.id, findings);
    if (!sealed) continue;
    if (Authenticates(repo, named.name, *sealed)) {
      if (!used) used = v.id;
    } else {
      (used ? below : above).push_back(v.id);
    }
  }
  for (const auto& id : above) AddForeign(findings, named.name, id, used, "it does not authenticate", url);
  for (const auto& id : below) {
    const std::string recover = DeleteVersionCommand(url, named.name, id);
    findings.notes.push_back("object '" + named.name + "': its older version " + id +
                             " does not authenticate (a damaged copy that a backup stored again, or not written by "
                             "dhanbak); readers use the newer version " + *used + "; '" + recover +
                             "' frees its space");
    findings.superseded.push_back({{"name", named.name}, {"version_id", id}, {"used_version_id", *used}, {"recover", recover}});
  }
}

// A key file is not sealed with the repository key, but dhanbak writes each one once: the oldest
// version is dhanbak's, and any other whose bytes differ is foreign (an identical one is an
// upload retried after its answer was lost).
void AuditKeyVersions(storage::Storage& storage, const NamedVersions& named, const std::string& url,
                      VersionFindings& findings) {
  std::vector<std::string> ids;
  for (const ObjectVersion& v : named.versions) {
    if (!v.hide_marker) ids.push_back(v.id);
  }
  const std::string& first = ids.back();
  auto original = ReadVersion(storage, named.name, first, findings);
  if (!original) return;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    auto bytes = ReadVersion(storage, named.name, ids[i], findings);
    if (bytes && *bytes != *original) {
      AddForeign(findings, named.name, ids[i], first, "it differs from the key file's first version " + first, url);
    }
  }
}

}  // namespace

VersionScan ScanVersions(storage::Storage& storage) {
  VersionScan scan;
  NamedVersions current;
  storage.ListVersions("", [&](const std::string& name, const ObjectVersion& v) {
    if (name != current.name && !current.versions.empty()) AddToScan(scan, std::exchange(current, NamedVersions{}));
    current.name = name;
    current.versions.push_back(v);
  });
  if (!current.versions.empty()) AddToScan(scan, std::move(current));
  return scan;
}

VersionFindings AuditVersions(const format::Repository& repo, const VersionScan& scan, const std::string& url,
                              bool read_data) {
  VersionFindings findings;
  for (const NamedVersions& named : scan.hidden) {
    const ObjectVersion& marker = named.versions.front();
    const std::string recover = DeleteVersionCommand(url, named.name, marker.id);
    findings.problems.push_back(
        "object '" + named.name + "' is hidden: its newest version " + marker.id +
        " is a B2 hide marker. dhanbak never hides anything: someone holding a key of this bucket did (or a "
        "lifecycle rule). Readers still use the hidden version; to recover, delete the marker with a key that has "
        "deleteFiles: " + recover);
    findings.hidden.push_back({{"name", named.name}, {"hide_marker_id", marker.id}, {"recover", recover}});
  }
  if (!read_data) {
    if (!scan.several.empty()) {
      findings.notes.push_back(std::to_string(scan.several.size()) +
                               " object(s) have more than one version: 'dhanbak check --read-data' authenticates "
                               "every version");
    }
    return findings;
  }
  for (const NamedVersions& named : scan.several) {
    if (named.name.starts_with(kAuditKeysPrefix)) {
      AuditKeyVersions(repo.storage(), named, url, findings);
    } else {
      AuditSealedVersions(repo, named, url, findings);
    }
  }
  return findings;
}

}  // namespace dhanbak::command

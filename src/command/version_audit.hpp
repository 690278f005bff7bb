// `check`'s audit of object versions (docs/decisions.md "Versions and hide markers on B2").
//
// dhanbak never hides an object and writes each object once (a chunk found damaged is sealed
// again, as a new version). Anyone holding a key with writeFiles can do more on B2: hide a name,
// or put a new version over it. Readers already fall back to the version dhanbak wrote
// (Repository::ReadSealed); check says what was done, from one ListVersions over the repository:
//  - every hidden name (its newest version is a hide marker): a problem, with the command that
//    deletes the marker;
//  - with --read-data, every version of a name with several: of a sealed object (chunk, manifest,
//    config), a version that does not authenticate and is newer than the one readers use is a
//    foreign version (a problem); one below it is the damaged copy a backup stored again (a
//    note). Of a key file, a version whose bytes differ from the first is foreign.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "dhanbak/storage/storage.hpp"
#include "format/repository.hpp"

namespace dhanbak::command {

struct NamedVersions {
  std::string name;
  std::vector<storage::ObjectVersion> versions;  // newest first
};

struct VersionScan {
  std::unordered_set<std::string> chunk_objects;  // names of chunk objects with a readable version, hidden ones too
  std::vector<std::string> manifest_ids;      // likewise, in name order
  std::vector<NamedVersions> hidden;          // names whose newest version is a hide marker
  std::vector<NamedVersions> several;         // chunks, manifests, config and keys with several versions
};

// One ListVersions over the whole repository.
VersionScan ScanVersions(storage::Storage& storage);

struct VersionFindings {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  nlohmann::json hidden = nlohmann::json::array();      // {name, hide_marker_id, recover}
  nlohmann::json foreign = nlohmann::json::array();     // {name, version_id, used_version_id, recover}
  nlohmann::json superseded = nlohmann::json::array();  // {name, version_id, used_version_id, recover}
};

// Hidden names always; with `read_data`, every version of the names with several (downloads
// each). `url` is the repository URL: recovery commands name the object as the bucket does.
VersionFindings AuditVersions(const format::Repository& repo, const VersionScan& scan, const std::string& url,
                              bool read_data);

}  // namespace dhanbak::command

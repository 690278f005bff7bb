// RecoveryPlan — which base backup and which archived WAL bring the cluster to a point in time,
// decided from the repository alone before anything is written (design §4, restore-cluster):
//  - the newest base backup that stopped at or before TIME (`latest`: the newest one);
//  - the timeline to follow: the one live at TIME among those descending from the base backup's,
//    i.e. the newest whose history file was archived by TIME (`latest`: the newest), given to
//    PostgreSQL explicitly as recovery_target_timeline. A cluster restored to 14:00 and promoted
//    at 15:00 was not live at 14:30: a restore to 14:30 follows the old timeline;
//  - an unbroken chain of segments from the base backup's start up to the first segment archived
//    at or after TIME (`latest`: to the end of the archive, with nothing archived beyond a gap).
// A missing segment is an error naming it, before a single file is restored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/time_spec.hpp"
#include "dhanbak/format/base_backup_manifest.hpp"
#include "format/repository.hpp"

namespace dhanbak::physical {

// One entry of a timeline's history: `timeline` was left for the next one at `switch_lsn`.
struct TimelineSwitch {
  uint32_t timeline = 0;
  uint64_t switch_lsn = 0;
};
// Parses a timeline history file ("1\t0/3000158\tno recovery target specified" lines).
// Throws Error(kCorruption) on malformed content.
std::vector<TimelineSwitch> ParseTimelineHistory(const std::string& content);

struct RecoveryPlan {
  format::BaseBackupManifest base;
  uint32_t target_timeline = 0;
  std::string first_segment, last_segment;  // the chain checked, inclusive
  uint64_t segments = 0;
  int64_t last_archived_unix = 0;           // when last_segment was stored
};

// Throws Error(kNotFound) when no base backup qualifies or the chain is broken (naming the
// missing segment), Error(kCorruption) when a needed segment is stored with two contents.
RecoveryPlan PlanClusterRecovery(const format::Repository& repo, const TimeSpec& at);
// The same from a given base backup (check: is the WAL unbroken from every base backup on?).
RecoveryPlan PlanRecoveryFrom(const format::Repository& repo, const format::BaseBackupManifest& base,
                              const TimeSpec& at);

}  // namespace dhanbak::physical

#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dhanbak::emulator {

// One scripted fault. Which requests it hits: those whose call name is in `apis` (empty: all
// calls), then `nth` (only the N-th match), `every` (every N-th match), `percent` (seeded
// pseudo-random share) or, with none of them, every match; at most `count` times (0: no limit).
struct FaultRule {
  std::string kind = "status";  // status | drop | corrupt | delay | cap_exceeded | expire_token
  std::vector<std::string> apis;
  int status = 503;
  std::string code;
  std::string message;
  int retry_after = -1;  // seconds for a Retry-After header; <0: none
  uint64_t nth = 0;
  uint64_t every = 0;
  double percent = -1;
  uint64_t seed = 1;
  uint64_t count = 0;
  int delay_ms = 0;
  double at_fraction = 0.5;  // drop/corrupt: where in the body, as a share of its length
  std::string bucket;        // cap_exceeded: only uploads to this bucket name (empty: all)

  uint64_t matched = 0;
  uint64_t fired = 0;
  std::mt19937_64 rng;
};

struct FaultDecision {
  int delay_ms = 0;
  std::optional<FaultRule> rule;  // the terminal fault to inject, if any
};

// Token lifetimes imposed by the tests (0: unlimited).
struct TokenExpiry {
  uint64_t requests = 0;
  int64_t seconds = 0;
};

// Parses a rule from JSON (control endpoint) — throws std::invalid_argument on bad input.
FaultRule FaultRuleFromJson(const nlohmann::json &j, uint64_t default_seed);
// Parses the command-line form "kind=status,status=503,percent=10,api=b2_upload_file".
nlohmann::json FaultSpecToJson(const std::string &spec);
nlohmann::json ToJson(const FaultRule &rule);

bool IsUploadCall(const std::string &api);
bool IsDownloadCall(const std::string &api);

class FaultInjector {
 public:
  void Replace(std::vector<FaultRule> rules);
  void Add(std::vector<FaultRule> rules);
  // Decides, and counts, the faults for one request to call `api` (bucket name when known).
  FaultDecision Decide(const std::string &api, const std::string &bucket_name);
  nlohmann::json Describe() const;

 private:
  mutable std::mutex mutex_;
  std::vector<FaultRule> rules_;
};

// Request counters for GET /_emulator/stats.
class Stats {
 public:
  void CountRequest(const std::string &api);
  void CountStatus(const std::string &api, int status);
  void CountFault(const std::string &kind);
  nlohmann::json ToJson() const;
  void Reset();

 private:
  mutable std::mutex mutex_;
  uint64_t requests_ = 0;
  std::map<std::string, uint64_t> by_api_;
  std::map<std::string, uint64_t> by_status_;
  std::map<std::string, std::map<std::string, uint64_t>> status_by_api_;
  std::map<std::string, uint64_t> faults_;
};

}  // namespace dhanbak::emulator

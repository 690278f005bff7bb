#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator/faults.hpp"

namespace dhanbak::emulator {

struct KeySpec {
  std::string id;
  std::string secret;
  std::vector<std::string> capabilities;
};

struct BucketSpec {
  std::string name;
  bool file_lock = false;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::filesystem::path data_dir;
  std::vector<KeySpec> keys;
  std::vector<BucketSpec> buckets;
  int64_t recommended_part_size = 100000000;
  int64_t min_part_size = 5000000;
  std::vector<nlohmann::json> faults;
  TokenExpiry token_expiry;
  uint64_t seed = 1;
  int threads = 32;
};

const std::vector<std::string> &AllCapabilities();
// Throws std::invalid_argument with a message for the user; returns nullopt-like empty data_dir
// only when --help was printed.
Options ParseOptions(int argc, char **argv, bool &help_printed);

}  // namespace dhanbak::emulator

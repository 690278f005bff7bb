#include "emulator/options.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>
#include <stdexcept>

// --key and --fault values contain commas: repeated flags, never comma-split lists.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

namespace dhanbak::emulator {

const std::vector<std::string> &AllCapabilities() {
  static const std::vector<std::string> kAll = {
      "listKeys", "writeKeys", "deleteKeys", "listBuckets", "listAllBucketNames", "readBuckets",
      "writeBuckets", "deleteBuckets", "readBucketEncryption", "writeBucketEncryption",
      "readBucketRetentions", "writeBucketRetentions", "readFileRetentions",
      "writeFileRetentions", "readFileLegalHolds", "writeFileLegalHolds",
      "readBucketReplications", "writeBucketReplications", "bypassGovernance", "listFiles",
      "readFiles", "shareFiles", "writeFiles", "deleteFiles", "readBucketNotifications",
      "writeBucketNotifications"};
  return kAll;
}

namespace {

std::vector<std::string> Split(const std::string &text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) out.push_back(item);
  return out;
}

KeySpec ParseKey(const std::string &text) {
  auto first = text.find(':');
  if (first == std::string::npos || first == 0) {
    throw std::invalid_argument("--key must be KEY_ID:APPLICATION_KEY[:CAP,CAP...]");
  }
  KeySpec key;
  key.id = text.substr(0, first);
  auto second = text.find(':', first + 1);
  key.secret = text.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
  if (key.secret.empty()) throw std::invalid_argument("--key " + key.id + ": empty application key");
  if (second == std::string::npos) {
    key.capabilities = AllCapabilities();
  } else {
    for (const auto &cap : Split(text.substr(second + 1), ',')) {
      if (cap.empty()) continue;
      if (std::find(AllCapabilities().begin(), AllCapabilities().end(), cap) == AllCapabilities().end()) {
        throw std::invalid_argument("--key " + key.id + ": unknown capability '" + cap + "'");
      }
      key.capabilities.push_back(cap);
    }
  }
  return key;
}

BucketSpec ParseBucket(const std::string &text) {
  BucketSpec bucket;
  auto colon = text.find(':');
  bucket.name = text.substr(0, colon);
  if (colon != std::string::npos) {
    if (text.substr(colon + 1) != "object-lock") {
      throw std::invalid_argument("--bucket NAME[:object-lock]: unknown option in '" + text + "'");
    }
    bucket.file_lock = true;
  }
  return bucket;
}

}  // namespace

Options ParseOptions(int argc, char **argv, bool &help_printed) {
  cxxopts::Options spec("dhanbak-b2-emulator", "Local Backblaze B2 native-API emulator with fault injection");
  spec.add_options()
      ("listen", "HOST:PORT to listen on (port 0 picks a free port)", cxxopts::value<std::string>()->default_value("127.0.0.1:0"))
      ("data-dir", "directory holding objects and metadata", cxxopts::value<std::string>())
      ("key", "KEY_ID:APPLICATION_KEY[:CAP,CAP...] (repeatable; no caps = all)", cxxopts::value<std::vector<std::string>>())
      ("bucket", "bucket NAME[:object-lock] to create if missing (repeatable)", cxxopts::value<std::vector<std::string>>())
      ("recommended-part-size", "recommendedPartSize advertised by authorize", cxxopts::value<int64_t>()->default_value("100000000"))
      ("min-part-size", "absoluteMinimumPartSize, enforced on all but the last part", cxxopts::value<int64_t>()->default_value("5000000"))
      ("fault", "fault rule, e.g. kind=status,status=503,percent=10 (repeatable)", cxxopts::value<std::vector<std::string>>())
      ("token-expire-requests", "account/upload tokens expire after N uses (0: never)", cxxopts::value<uint64_t>()->default_value("0"))
      ("token-expire-seconds", "tokens expire S seconds after issue (0: never)", cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "default seed for percentage faults", cxxopts::value<uint64_t>()->default_value("1"))
      ("threads", "worker threads", cxxopts::value<int>()->default_value("32"))
      ("h,help", "show this help");
  auto parsed = spec.parse(argc, argv);
  help_printed = false;
  if (parsed.count("help")) {
    std::cout << spec.help() << std::flush;
    help_printed = true;
    return {};
  }
  if (!parsed.unmatched().empty()) throw std::invalid_argument("unexpected argument '" + parsed.unmatched().front() + "'");
  Options options;
  std::string listen = parsed["listen"].as<std::string>();
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen must be HOST:PORT");
  options.host = listen.substr(0, colon);
  try {
    options.port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception &) {
    throw std::invalid_argument("--listen must be HOST:PORT");
  }
  if (options.port < 0 || options.port > 65535) throw std::invalid_argument("--listen: bad port");
  if (!parsed.count("data-dir")) throw std::invalid_argument("--data-dir is required");
  options.data_dir = parsed["data-dir"].as<std::string>();
  if (!parsed.count("key")) throw std::invalid_argument("at least one --key is required");
  for (const auto &text : parsed["key"].as<std::vector<std::string>>()) options.keys.push_back(ParseKey(text));
  if (parsed.count("bucket")) {
    for (const auto &text : parsed["bucket"].as<std::vector<std::string>>()) options.buckets.push_back(ParseBucket(text));
  }
  options.recommended_part_size = parsed["recommended-part-size"].as<int64_t>();
  options.min_part_size = parsed["min-part-size"].as<int64_t>();
  if (options.min_part_size < 1 || options.recommended_part_size < options.min_part_size) {
    throw std::invalid_argument("need 1 <= --min-part-size <= --recommended-part-size");
  }
  options.seed = parsed["seed"].as<uint64_t>();
  if (parsed.count("fault")) {
    for (const auto &text : parsed["fault"].as<std::vector<std::string>>()) {
      options.faults.push_back(FaultSpecToJson(text));
      FaultRuleFromJson(options.faults.back(), options.seed);  // validate now, fail early
    }
  }
  options.token_expiry.requests = parsed["token-expire-requests"].as<uint64_t>();
  options.token_expiry.seconds = parsed["token-expire-seconds"].as<int64_t>();
  options.threads = std::max(4, parsed["threads"].as<int>());
  return options;
}

}  // namespace dhanbak::emulator

// EmulatorProcess — a dhanbak-b2-emulator child for one test: a free port, a temporary data
// directory, the given keys, buckets and fault flags; SIGTERM and cleanup on destruction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dhanbak/config.hpp"
#include "storage/b2/b2_storage.hpp"
#include "support/process.hpp"

namespace dhanbak::test {

inline constexpr const char* kEmuKeyId = "0012conformancekey";
inline constexpr const char* kEmuKey = "K001ConformanceSecretApplicationKey";
inline constexpr const char* kEmuBucket = "dhanbak-conformance";

// The emulator currently answers a download of a zero-length object with neither
// Content-Length nor chunked encoding on a keep-alive connection, so no HTTP client can tell
// where the body ends (curl waits for the stall timeout). Real B2 sends Content-Length: 0.
// Flip to true once the emulator sets the header; the suite then also downloads empty objects.
inline constexpr bool kEmulatorServesEmptyBodies = true;

struct EmulatorSetup {
  // --key values; the first one is the default key of MakeB2Config.
  std::vector<std::string> keys = {std::string(kEmuKeyId) + ":" + kEmuKey};
  std::vector<std::string> buckets = {kEmuBucket};
  std::vector<std::string> extra_args;  // --fault ..., --token-expire-requests N, part sizes
};

class EmulatorProcess {
 public:
  explicit EmulatorProcess(EmulatorSetup setup = {});
  ~EmulatorProcess();
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;

  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  // Stops the emulator (SIGTERM) and waits; its data stays until destruction.
  void Stop();
  // GET /_emulator/stats as JSON.
  nlohmann::json Stats();
  // POST a JSON document to a control path such as "/_emulator/faults".
  void Control(const std::string& path, const nlohmann::json& body);
  // One B2 JSON call (POST /b2api/v3/API) with the default key, e.g. b2_hide_file: what someone
  // else holding a key can do behind dhanbak's back. Throws unless it answers 2xx.
  nlohmann::json CallB2(const std::string& api, const nlohmann::json& body);
  // The id of the bucket called `name`.
  std::string BucketId(const std::string& name = kEmuBucket);

 private:
  std::string data_dir_;
  std::string url_;
  std::unique_ptr<BackgroundProcess> process_;
};

// A [b2] section pointing at `emulator` with literal credentials (default: the first key).
B2Config MakeB2Config(const EmulatorProcess& emulator, const std::string& key_id = kEmuKeyId,
                      const std::string& key = kEmuKey);

}  // namespace dhanbak::test

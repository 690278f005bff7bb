#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "emulator/faults.hpp"
#include "emulator/options.hpp"
#include "emulator/store.hpp"
#include "emulator/tokens.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
class ContentReader;
}  // namespace httplib

namespace dhanbak::emulator {

// One request as the handlers see it.
struct Call {
  Call(const httplib::Request &req_in, httplib::Response &res_in) : req(req_in), res(res_in) {}
  const httplib::Request &req;
  httplib::Response &res;
  int version = 2;                    // /b2api/vN
  std::string api;                    // B2 call name, or "_emulator"
  std::vector<std::string> segments;  // path segments after the call name
  std::string bucket_name;            // download by name
  std::string file_name;              // download by name (decoded)
  nlohmann::json params = nlohmann::json::object();
  std::string body;
  std::string token;  // the Authorization value used, for expire_token faults
  FaultDecision fault;
  std::optional<UploadGrant> grant;  // uploads: the checked upload token's binding
};

class Emulator {
 public:
  explicit Emulator(Options options);
  ~Emulator();
  // Opens the data directory and binds the listening socket; returns the port.
  int Bind();
  void Run();   // serves until Stop()
  void Stop();  // safe from another thread

 private:
  using JsonHandler = nlohmann::json (Emulator::*)(Call &);

  void OnGet(const httplib::Request &req, httplib::Response &res);
  void OnPost(const httplib::Request &req, httplib::Response &res, const httplib::ContentReader &reader);
  bool Route(Call &call);
  void Serve(Call &call);
  void ServeControl(Call &call);
  void ApplyTestMode(Call &call);
  void ReplyError(Call &call, int status, const std::string &code, const std::string &message,
                  int retry_after = -1);
  void DropConnection(const httplib::Request &req);
  std::string BucketNameForFaults(const Call &call);

  // Authorization helpers; the store mutex must be held.
  const Key &AuthorizeCall(Call &call, const char *capability);
  void CheckBucketAllowed(const Key &key, const std::string &bucket_id);
  void CheckNameAllowed(const Key &key, const std::string &name);
  const Bucket &BucketParam(Call &call, const Key &key);

  nlohmann::json FileJson(const FileVersion &version, int api_version, const Key &key) const;
  nlohmann::json BucketJson(const Bucket &bucket) const;
  nlohmann::json KeyJson(const Key &key) const;
  std::string NewFileId(const std::string &bucket_id) const;

  // JSON calls (json_calls.cpp, large_file_calls.cpp, key_calls.cpp).
  nlohmann::json AuthorizeAccount(Call &call);
  nlohmann::json ListBuckets(Call &call);
  nlohmann::json CreateBucket(Call &call);
  nlohmann::json DeleteBucket(Call &call);
  nlohmann::json GetUploadUrl(Call &call);
  nlohmann::json ListFileNames(Call &call);
  nlohmann::json ListFileVersions(Call &call);
  nlohmann::json GetFileInfo(Call &call);
  nlohmann::json HideFile(Call &call);
  nlohmann::json DeleteFileVersion(Call &call);
  nlohmann::json StartLargeFile(Call &call);
  nlohmann::json GetUploadPartUrl(Call &call);
  nlohmann::json FinishLargeFile(Call &call);
  nlohmann::json CancelLargeFile(Call &call);
  nlohmann::json ListUnfinishedLargeFiles(Call &call);
  nlohmann::json ListParts(Call &call);
  nlohmann::json CreateKey(Call &call);
  nlohmann::json ListKeys(Call &call);
  nlohmann::json DeleteKey(Call &call);
  nlohmann::json ListVersionsOrNames(Call &call, bool all_versions);

  // Transfers (transfers.cpp). Uploads run with the body already read.
  nlohmann::json UploadFile(Call &call, const UploadGrant &grant);
  nlohmann::json UploadPart(Call &call, const UploadGrant &grant);
  void Download(Call &call);

  Options options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::string base_url_;
  std::mutex store_mutex_;
  Store store_;
  TokenRegistry tokens_;
  FaultInjector faults_;
  Stats stats_;
  std::atomic<uint64_t> test_mode_uploads_{0};
  std::atomic<uint64_t> test_mode_calls_{0};
  std::map<std::string, JsonHandler> json_calls_;
};

}  // namespace dhanbak::emulator

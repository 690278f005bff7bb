#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace dhanbak::emulator::test {

// A fresh temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path &path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs the dhanbak-b2-emulator binary on a free port until Stop() or destruction.
class EmulatorProcess {
 public:
  EmulatorProcess(std::filesystem::path data_dir, std::vector<std::string> extra_args);
  ~EmulatorProcess();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // SIGTERM, then the exit status (0 for a clean stop).
  int Stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Reply {
  int status = 0;  // 0: no HTTP response (connection failed or dropped)
  nlohmann::json json;
  std::string body;
  httplib::Headers headers;
  std::string Header(const std::string &name) const;
};

// A tiny B2 client for the tests: account calls, uploads, downloads.
class B2 {
 public:
  explicit B2(int port, std::string key_id = "kid", std::string secret = "ksecret", int version = 2);
  Reply Authorize();
  Reply Call(const std::string &api, const nlohmann::json &params, bool use_get = false);
  Reply Upload(const std::string &bucket_id, const std::string &name, const std::string &data,
               httplib::Headers extra = {});
  Reply UploadTo(const std::string &url, const std::string &token, const std::string &name,
                 const std::string &data, httplib::Headers extra = {});
  Reply DownloadByName(const std::string &bucket, const std::string &encoded_name,
                       httplib::Headers extra = {}, bool head = false);
  Reply DownloadById(const std::string &file_id, httplib::Headers extra = {});
  Reply Control(const std::string &method, const std::string &path, const nlohmann::json &body = nullptr);
  std::string BucketId(const std::string &name);

  std::string token;
  std::string account_id;
  int version;

 private:
  Reply Send(const std::string &method, const std::string &path, const httplib::Headers &headers,
             const std::string &body, const std::string &content_type);
  int port_;
  std::string key_id_;
  std::string secret_;
};

std::string Sha1(const std::string &data);
std::string RandomBytes(size_t size, unsigned seed);
// Sends raw bytes over a fresh TCP connection and returns everything read until EOF/timeout.
std::string RawExchange(int port, const std::string &request);

}  // namespace dhanbak::emulator::test

// Shared by the B2 end-to-end test binaries: the bundled emulator run as a child process, a
// dhanbak work directory for a b2:// repository on it, and B2 calls made by the test itself (what
// another holder of a key can do behind dhanbak's back). Included by one file per binary.
#pragma once

#include <curl/curl.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "format/repository.hpp"
#include "storage/b2/b2_storage.hpp"
#include "support/build_under_test.hpp"
#include "support/db_compare.hpp"
#include "support/dhanbak_env.hpp"
#include "support/pg_cluster.hpp"
#include "support/process.hpp"
#include "support/temp_root.hpp"

using namespace dhanbak::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace dhanbak::test::b2env {

constexpr const char* kBucket = "dhanman-backups-e2e";
constexpr const char* kPrefix = "postgresql";
// Distinctive values, so that a leak into any output is found by a plain substring search.
constexpr const char* kKeyId = "005e2eKeyIdF00DBABE0001";
constexpr const char* kKey = "K005E2eSecretApplicationKeyNeverLogMe7f3a";
constexpr const char* kAppendKeyId = "005e2eAppendOnlyKeyId0002";
constexpr const char* kAppendKey = "K005AppendOnlySecretApplicationKey19c2";
constexpr const char* kAppendCaps = "listBuckets,listFiles,readFiles,writeFiles";
constexpr const char* kPassphrase = "b2 end-to-end passphrase";

inline std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

struct HttpRequest {
  HttpRequest(std::string url_in, std::optional<std::string> body_in = std::nullopt,
              std::vector<std::string> headers_in = {}, std::string userpwd_in = "")
      : url(std::move(url_in)), body(std::move(body_in)), headers(std::move(headers_in)), userpwd(std::move(userpwd_in)) {}
  std::string url;
  std::optional<std::string> body;  // POST (with Content-Length) when set, else GET
  std::vector<std::string> headers;
  std::string userpwd;              // basic auth "ID:SECRET"
};

inline size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One HTTP exchange with the emulator (libcurl); throws unless it answers 2xx. Returns the JSON body.
inline json Http(const HttpRequest& request) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  std::string response;
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
  if (headers != nullptr) curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  if (!request.userpwd.empty()) curl_easy_setopt(curl.get(), CURLOPT_USERPWD, request.userpwd.c_str());
  if (request.body) {
    curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, request.body->c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body->size()));
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) throw std::runtime_error(request.url + ": " + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    throw std::runtime_error(request.url + " answered " + std::to_string(status) + ": " + response);
  }
  return json::parse(response);
}

// A B2 call from the test itself, retried while the emulator injects faults.
inline json HttpRetried(const HttpRequest& request) {
  for (int attempt = 1;; ++attempt) {
    try {
      return Http(request);
    } catch (const std::exception&) {
      if (attempt >= 30) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

// One dhanbak-b2-emulator process over a data directory that outlives restarts.
class Emulator {
 public:
  Emulator(std::vector<std::string> keys, std::vector<std::string> extra_args = {})
      : data_dir_(MakeTestTempDir("dhanbak-e2e-emu")), keys_(std::move(keys)), extra_args_(std::move(extra_args)) {
    Start(0);
  }
  ~Emulator() {
    Stop();
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Starts on `port` (0: a free one), with the same keys, bucket and flags as before.
  void Start(int port) {
    std::vector<std::string> argv = {DHANBAK_B2_EMULATOR, "--listen", "127.0.0.1:" + std::to_string(port),
                                     "--data-dir", data_dir_, "--bucket", kBucket};
    for (const auto& k : keys_) argv.insert(argv.end(), {"--key", k});
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    const std::string marker = "listening on http://127.0.0.1:";
    for (int attempt = 0;; ++attempt) {
      process_ = std::make_unique<BackgroundProcess>(argv);
      if (process_->WaitForOutput(marker, std::chrono::seconds(20))) break;
      // Restarting on a fixed port right after a kill may briefly find it taken.
      ProcessResult r = process_->Wait(std::chrono::seconds(5));
      if (attempt >= 20) throw std::runtime_error("b2 emulator did not start: " + r.out + r.err);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    std::string out = process_->Stdout();
    port_ = std::stoi(out.substr(out.find(marker) + marker.size()));
  }
  void Stop() {
    if (process_ && process_->Running()) {
      process_->Signal(SIGTERM);
      process_->Wait(std::chrono::seconds(10));
    }
    process_.reset();
  }
  // An outage: the server vanishes at once, mid-request.
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(10));
    process_.reset();
  }

  json Stats() const { return Http({url() + "/_emulator/stats"}); }
  // (With Content-Length: 0 — the emulator waits for a body when a POST has none.)
  void ResetStats() const { Http({url() + "/_emulator/stats/reset", std::string()}); }
  // Replaces the fault rules (and token expiry) via the control endpoint.
  void SetFaults(const json& body) const {
    Http({url() + "/_emulator/faults", body.dump(), {"Content-Type: application/json"}});
  }
  void ClearFaults() const { SetFaults({{"rules", json::array()}, {"token_expiry", {{"requests", 0}, {"seconds", 0}}}}); }

  // Shifts the emulator's clock: what is uploaded now is stamped `offset_seconds` away.
  void SetClock(int64_t offset_seconds) const {
    Http({url() + "/_emulator/clock", json{{"offset_seconds", offset_seconds}}.dump(), {"Content-Type: application/json"}});
  }

  // Uploads `name` (full key) under governance retention until `retain_until_ms`.
  void UploadRetained(const std::string& name, const std::string& body, int64_t retain_until_ms) const {
    json target = Call("b2_get_upload_url", {{"bucketId", nullptr}});
    Http({target.at("uploadUrl").get<std::string>(), body,
          {"Authorization: " + target.at("authorizationToken").get<std::string>(), "X-Bz-File-Name: " + name,
           "Content-Type: application/octet-stream", "X-Bz-Content-Sha1: do_not_verify",
           "X-Bz-File-Retention-Mode: governance",
           "X-Bz-File-Retention-Retain-Until-Timestamp: " + std::to_string(retain_until_ms)}});
  }

  // One B2 call with the full key (a fresh token per call: the emulator may be expiring tokens);
  // "bucketId" is filled in for calls that take it. Also what anyone else holding a key of the
  // bucket can do behind dhanbak's back (b2_hide_file, an upload).
  json Call(const std::string& api, json body) const {
    json auth = HttpRetried({url() + "/b2api/v2/b2_authorize_account", "{}", {}, std::string(kKeyId) + ":" + kKey});
    const std::string token = auth.at("authorizationToken");
    auto call = [&](const std::string& name, const json& b) {
      return HttpRetried({url() + "/b2api/v2/" + name, b.dump(),
                          {"Authorization: " + token, "Content-Type: application/json"}});
    };
    if (body.contains("bucketId") && body["bucketId"].is_null()) {
      json buckets = call("b2_list_buckets", {{"accountId", auth.at("accountId")}, {"bucketName", kBucket}});
      body["bucketId"] = buckets.at("buckets").at(0).at("bucketId");
    }
    return call(api, body);
  }

  // Names in the bucket under `prefix` (b2_list_file_names, paged), with the full key.
  std::vector<std::string> ListNames(const std::string& prefix) const {
    std::vector<std::string> names;
    json start = nullptr;
    do {
      json body = {{"bucketId", nullptr}, {"prefix", prefix}, {"maxFileCount", 1000}};
      if (!start.is_null()) body["startFileName"] = start;
      json page = Call("b2_list_file_names", body);
      for (const auto& f : page.at("files")) names.push_back(f.at("fileName"));
      start = page.value("nextFileName", json(nullptr));
    } while (!start.is_null());
    return names;
  }

 private:
  std::string data_dir_;
  std::vector<std::string> keys_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<BackgroundProcess> process_;
  int port_ = 0;
};

struct B2Settings {
  std::string key_id = kKeyId;
  std::string key = kKey;
  std::string retry_max_time = "10m";
  int connections = 4;
  int object_lock_days = 0;
  std::string extra_toml;  // appended to dhanbak.toml (whole tables, e.g. [retention])
};

// A work directory with a passphrase file, a catalog and a dhanbak.toml for a b2:// repository
// whose credentials are env: references; runs the real binary with those variables set.
class B2Dhanbak {
 public:
  B2Dhanbak(const Emulator& emulator, std::vector<std::string> databases, B2Settings settings = {})
      : dir_(MakeTestTempDir("dhanbak-e2e")), settings_(std::move(settings)), api_url_(emulator.url()),
        databases_(std::move(databases)) {
    const std::string passphrase = dir_ + "/passphrase";
    {
      std::ofstream out(passphrase);
      out << kPassphrase << "\n";
    }
    ::chmod(passphrase.c_str(), 0600);
    WriteConfig();
  }
  // Rewrites dhanbak.toml from the settings (e.g. after a test changed object_lock_days).
  void WriteConfig() const {
    PgCluster& cluster = SharedCluster();
    std::string dbs;
    for (const auto& d : databases_) dbs += (dbs.empty() ? "" : ", ") + Quote(d);
    std::ofstream toml(config(), std::ios::trunc);
    toml << "[repository]\n"
         << "url = " << Quote(std::string("b2://") + kBucket + "/" + kPrefix) << "\n"
         << "passphrase = " << Quote("file:" + dir_ + "/passphrase") << "\n\n"
         << "[b2]\n"
         << "key_id = \"env:B2_APPLICATION_KEY_ID\"\n"
         << "application_key = \"env:B2_APPLICATION_KEY\"\n"
         << "api_url = " << Quote(api_url_) << "\n"
         << "connections = " << settings_.connections << "\n"
         << "object_lock_days = " << settings_.object_lock_days << "\n"
         << "retry_max_time = " << Quote(settings_.retry_max_time) << "\n\n"
         << "[postgres]\n"
         << "conninfo = " << Quote("host=127.0.0.1 port=" + std::to_string(cluster.port()) + " user=postgres")
         << "\n"
         << "databases = [" << dbs << "]\n"
         << "jobs = 2\n\n"
         << "[catalog]\n"
         << "path = " << Quote(dir_ + "/catalog.sqlite") << "\n"
         << settings_.extra_toml;
    if (!toml) throw std::runtime_error("cannot write " + config());
  }
  B2Settings& settings() { return settings_; }
  ~B2Dhanbak() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string config() const { return dir_ + "/dhanbak.toml"; }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {DhanbakBinary(), "-c", config(), "--allow-root", "--no-progress"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  ProcessOptions Options() const {
    ProcessOptions o;
    o.env = {{"TZ", "UTC"}, {"B2_APPLICATION_KEY_ID", settings_.key_id}, {"B2_APPLICATION_KEY", settings_.key}};
    o.unset_env = {"DHANBAK_CONFIG", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE"};
    o.timeout = std::chrono::minutes(5);
    return o;
  }

  // Runs dhanbak; every run's output is checked for the credentials.
  ProcessResult Run(const std::vector<std::string>& args) const {
    ProcessResult r = RunProcess(Argv(args), Options());
    CheckNoSecrets(DescribeCommand(args), r);
    return r;
  }
  ProcessResult RunOk(const std::vector<std::string>& args) const {
    ProcessResult r = Run(args);
    INFO("dhanbak " << DescribeCommand(args) << " exited " << r.exit_code << "\nstdout:\n"
                    << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
  }
  void CheckNoSecrets(const std::string& what, const ProcessResult& r) const {
    const std::string all = r.out + r.err;
    CHECK_MESSAGE(all.find(settings_.key) == std::string::npos, "application key printed by dhanbak " << what);
    CHECK_MESSAGE(all.find(settings_.key_id) == std::string::npos, "key id printed by dhanbak " << what);
  }

  json ListJson() const {
    ProcessResult r = RunOk({"--json", "list"});
    json j = json::parse(r.out);
    REQUIRE(j.contains("backups"));
    return j["backups"];
  }

 private:
  std::string dir_;
  B2Settings settings_;
  std::string api_url_;
  std::vector<std::string> databases_;
};

inline void GenerateSample(PgCluster& cluster, const std::string& name, const std::string& kind, const std::string& scale) {
  cluster.DropDatabase(name);
  cluster.CreateDatabase(name);
  cluster.RunSqlFile(name, std::string(DHANBAK_SOURCE_DIR) + "/scripts/gen-sample-data.sql",
                     {{"db", kind}, {"scale", scale}});
}

// The bucket as dhanbak sees it, in-process, with the full key.
inline std::unique_ptr<dhanbak::storage::B2Storage> InProcessStorage(const Emulator& emulator) {
  ::setenv("DHANBAK_E2E_TEST_KEY_ID", kKeyId, 1);
  ::setenv("DHANBAK_E2E_TEST_KEY", kKey, 1);
  dhanbak::B2Config config;
  config.key_id = {"env:DHANBAK_E2E_TEST_KEY_ID", "test"};
  config.application_key = {"env:DHANBAK_E2E_TEST_KEY", "test"};
  config.api_url = emulator.url();
  config.retry_max_time = std::chrono::seconds(30);
  return std::make_unique<dhanbak::storage::B2Storage>(std::string("b2://") + kBucket + "/" + kPrefix, config);
}

// The ids of every version of `name` in the repository, newest first (hide markers too).
inline std::vector<std::string> VersionIds(dhanbak::storage::Storage& storage, const std::string& name) {
  std::vector<std::string> ids;
  storage.ListVersions(name, [&](const std::string& n, const dhanbak::storage::ObjectVersion& v) {
    if (n == name) ids.push_back(v.id);
  });
  return ids;
}

// The one chunk of table `table` in backup `backup_id` (the tests' tables fit one chunk).
inline std::string OnlyChunkOf(const dhanbak::format::Repository& repo, const std::string& backup_id, const std::string& table) {
  for (const auto& t : repo.GetManifest(backup_id).tables) {
    if (t.name == table && t.data.chunks.size() == 1) return t.data.chunks[0];
  }
  return "";
}

// A database with one table of `rows` rows that fits one chunk.
inline void CreateSmallDatabase(PgCluster& cluster, const std::string& db, int rows) {
  cluster.DropDatabase(db);
  cluster.CreateDatabase(db);
  cluster.Psql(db, "CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, " +
                       std::to_string(rows) + ") g");
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline void RestoreAndCompare(const B2Dhanbak& dhanbak, PgCluster& cluster, const std::string& db) {
  const std::string target = db + "_b2_restored";
  cluster.DropDatabase(target);
  ProcessResult r = dhanbak.RunOk({"restore", db, "--at", "latest", "--target-db", target});
  CHECK(r.out.find("DIFFERS") == std::string::npos);
  REQUIRE(cluster.DatabaseExists(target));
  CompareResult cmp = CompareDatabases(cluster, db, target);
  INFO("differences between " << db << " and " << target << ":\n" << cmp.Summary());
  CHECK(cmp.equal);
  cluster.DropDatabase(target);
}

inline int64_t Count(const json& stats, const std::string& status) {
  return stats.at("by_status").value(status, int64_t{0});
}

// "b2_upload_file 120 (503: 11, 401: 2); ..." for every call that saw an error.
inline std::string RetrySummary(const json& stats) {
  std::ostringstream out;
  for (const auto& [api, statuses] : stats.at("status_by_api").items()) {
    int64_t total = 0;
    std::string errors;
    for (const auto& [status, n] : statuses.items()) {
      total += n.get<int64_t>();
      if (status != "200" && status != "206") errors += (errors.empty() ? "" : ", ") + status + ": " + n.dump();
    }
    out << "\n    " << api << " " << total << (errors.empty() ? "" : " (" + errors + ")");
  }
  return out.str();
}

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace dhanbak::test::b2env

using namespace dhanbak::test::b2env;

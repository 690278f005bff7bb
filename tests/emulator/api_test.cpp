// Protocol behaviour of the emulator's JSON calls: versions, auth, buckets, listing, hide,
// delete, capabilities, keys, Object Lock, persistence.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>

#include "emulator/emulator_fixture.hpp"

namespace dhanbak::emulator::test::api_test {  // this file's names, apart from its unity batch's

using nlohmann::json;

TEST_CASE("authorize: version shapes, GET and POST, bad keys, absolute-form targets") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});

  B2 v3(emulator.port(), "kid", "ksecret", 3);
  Reply r3 = v3.Authorize();
  REQUIRE(r3.status == 200);
  CHECK(r3.json["apiInfo"]["storageApi"]["apiUrl"] == emulator.url());
  CHECK(r3.json["apiInfo"]["storageApi"]["downloadUrl"] == emulator.url());
  CHECK(r3.json["apiInfo"]["storageApi"]["infoType"] == "storageApi");
  CHECK(r3.json["apiInfo"]["storageApi"]["absoluteMinimumPartSize"] == 5000000);
  CHECK(!r3.json.contains("apiUrl"));

  B2 v2(emulator.port(), "kid", "ksecret", 2);
  Reply r2 = v2.Authorize();
  REQUIRE(r2.status == 200);
  CHECK(r2.json["apiUrl"] == emulator.url());
  CHECK(r2.json["allowed"]["capabilities"].size() > 20);
  CHECK(r2.json["recommendedPartSize"] == 100000000);
  CHECK(r2.json["accountId"] == r3.json["accountId"]);

  // GET with Basic auth works too (rclone, blazer).
  httplib::Client client("127.0.0.1", emulator.port());
  client.set_basic_auth("kid", "ksecret");
  auto get = client.Get("/b2api/v1/b2_authorize_account");
  REQUIRE(get);
  CHECK(get->status == 200);

  B2 wrong(emulator.port(), "kid", "wrong", 2);
  Reply bad = wrong.Authorize();
  CHECK(bad.status == 401);
  CHECK(bad.json["code"] == "unauthorized");
  CHECK(bad.json["status"] == 401);
  CHECK(bad.json["message"].is_string());

  // Proxy-style absolute-form request target, as CLI --dev via HTTP_PROXY sends it.
  std::string raw = RawExchange(emulator.port(),
                                "POST http://api.backblazeb2.xyz:8180/b2api/v2/b2_authorize_account HTTP/1.1\r\n"
                                "Host: api.backblazeb2.xyz:8180\r\n"
                                "Authorization: Basic a2lkOmtzZWNyZXQ=\r\n"
                                "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(raw.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(raw.find("\"apiUrl\": \"" + emulator.url() + "\"") != std::string::npos);

  // Missing and bad tokens.
  B2 anon(emulator.port());
  Reply missing = anon.Call("b2_list_buckets", {{"accountId", v2.account_id}});
  CHECK(missing.status == 401);
  CHECK(missing.json["code"] == "missing_auth_token");
  anon.token = "garbage";
  CHECK(anon.Call("b2_list_buckets", {{"accountId", v2.account_id}}).json["code"] == "bad_auth_token");
  Reply unknown = v2.Call("b2_no_such_call", json::object());
  CHECK(unknown.status == 404);
}

TEST_CASE("buckets: list by GET and POST, create, duplicate name") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  REQUIRE(b2.Authorize().status == 200);
  Reply post = b2.Call("b2_list_buckets", {{"accountId", b2.account_id}, {"bucketTypes", {"all"}}});
  REQUIRE(post.status == 200);
  REQUIRE(post.json["buckets"].size() == 1);
  CHECK(post.json["buckets"][0]["bucketName"] == "bucket-one");
  CHECK(post.json["buckets"][0]["bucketType"] == "allPrivate");
  Reply get = b2.Call("b2_list_buckets", {{"accountId", b2.account_id}}, true);
  CHECK(get.status == 200);
  CHECK(get.json["buckets"].size() == 1);

  Reply created = b2.Call("b2_create_bucket", {{"accountId", b2.account_id}, {"bucketName", "bucket-two"},
                                               {"bucketType", "allPrivate"}});
  CHECK(created.status == 200);
  Reply dup = b2.Call("b2_create_bucket", {{"accountId", b2.account_id}, {"bucketName", "bucket-two"},
                                           {"bucketType", "allPrivate"}});
  CHECK(dup.status == 400);
  CHECK(dup.json["code"] == "duplicate_bucket_name");
  CHECK(b2.Call("b2_create_bucket", {{"accountId", b2.account_id}, {"bucketName", "x"}, {"bucketType", "allPrivate"}})
            .status == 400);
  CHECK(b2.Call("b2_list_buckets", {{"accountId", b2.account_id}}).json["buckets"].size() == 2);
  Reply bad_json = b2.Call("b2_list_buckets", json::array());
  CHECK(bad_json.status == 400);
}

TEST_CASE("listing: paging, prefix, delimiter, versions, hide and delete") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  REQUIRE(b2.Authorize().status == 200);
  std::string bucket = b2.BucketId("bucket-one");
  for (int i = 0; i < 25; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "chunks/%02d", i);
    REQUIRE(b2.Upload(bucket, name, "data" + std::to_string(i)).status == 200);
  }
  REQUIRE(b2.Upload(bucket, "manifests/a", "m1").status == 200);
  REQUIRE(b2.Upload(bucket, "manifests/sub/b", "m2").status == 200);
  REQUIRE(b2.Upload(bucket, "top", "t").status == 200);

  // Page through chunks/ 10 at a time.
  std::vector<std::string> names;
  json start = nullptr;
  int pages = 0;
  do {
    json params = {{"bucketId", bucket}, {"prefix", "chunks/"}, {"maxFileCount", 10}};
    if (!start.is_null()) params["startFileName"] = start;
    Reply page = b2.Call("b2_list_file_names", params);
    REQUIRE(page.status == 200);
    for (const auto &f : page.json["files"]) names.push_back(f["fileName"]);
    start = page.json["nextFileName"];
    ++pages;
  } while (!start.is_null() && pages < 10);
  CHECK(pages == 3);
  REQUIRE(names.size() == 25);
  CHECK(names.front() == "chunks/00");
  CHECK(names.back() == "chunks/24");

  // Delimiter: folders collapse.
  Reply top = b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"delimiter", "/"}});
  REQUIRE(top.json["files"].size() == 3);
  CHECK(top.json["files"][0]["fileName"] == "chunks/");
  CHECK(top.json["files"][0]["action"] == "folder");
  CHECK(top.json["files"][1]["fileName"] == "manifests/");
  CHECK(top.json["files"][2]["fileName"] == "top");
  Reply sub = b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"prefix", "manifests/"}, {"delimiter", "/"}});
  REQUIRE(sub.json["files"].size() == 2);
  CHECK(sub.json["files"][0]["fileName"] == "manifests/a");
  CHECK(sub.json["files"][1]["fileName"] == "manifests/sub/");
  // Paging across folders: one entry per page.
  Reply first = b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"delimiter", "/"}, {"maxFileCount", 1}});
  CHECK(first.json["nextFileName"] == "manifests/");

  CHECK(b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"maxFileCount", 10001}}).status == 400);
  CHECK(b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"maxFileCount", 10000}}).status == 200);
  // GET with query parameters.
  Reply get = b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"prefix", "manifests/"}, {"maxFileCount", "5"}}, true);
  CHECK(get.json["files"].size() == 2);

  // New version, hide, versions order, delete re-exposes.
  Reply v2 = b2.Upload(bucket, "top", "t2");
  REQUIRE(v2.status == 200);
  Reply versions = b2.Call("b2_list_file_versions", {{"bucketId", bucket}, {"prefix", "top"}});
  REQUIRE(versions.json["files"].size() == 2);
  CHECK(versions.json["files"][0]["fileId"] == v2.json["fileId"]);  // newest first
  Reply hidden = b2.Call("b2_hide_file", {{"bucketId", bucket}, {"fileName", "top"}});
  REQUIRE(hidden.status == 200);
  CHECK(hidden.json["action"] == "hide");
  CHECK(hidden.json["contentType"] == "application/x-bz-hide-marker");
  CHECK(b2.Call("b2_hide_file", {{"bucketId", bucket}, {"fileName", "top"}}).json["code"] == "already_hidden");
  CHECK(b2.Call("b2_hide_file", {{"bucketId", bucket}, {"fileName", "nope"}}).json["code"] == "no_such_file");
  CHECK(b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"prefix", "top"}}).json["files"].empty());
  CHECK(b2.DownloadByName("bucket-one", "top").status == 404);
  CHECK(b2.DownloadById(v2.json["fileId"]).body == "t2");
  CHECK(b2.DownloadById(hidden.json["fileId"]).status == 404);  // a marker has no bytes
  // Versions list unfinished large files too ("start"); names never do.
  Reply started = b2.Call("b2_start_large_file", {{"bucketId", bucket}, {"fileName", "topz"},
                                                  {"contentType", "application/octet-stream"}});
  REQUIRE(started.status == 200);
  Reply with_start = b2.Call("b2_list_file_versions", {{"bucketId", bucket}, {"prefix", "topz"}});
  REQUIRE(with_start.json["files"].size() == 1);
  CHECK(with_start.json["files"][0]["action"] == "start");
  CHECK(b2.Call("b2_list_file_names", {{"bucketId", bucket}, {"prefix", "topz"}}).json["files"].empty());
  CHECK(b2.Call("b2_cancel_large_file", {{"fileId", started.json["fileId"]}}).status == 200);
  Reply all = b2.Call("b2_list_file_versions", {{"bucketId", bucket}, {"prefix", "top"}, {"maxFileCount", 2}});
  REQUIRE(all.json["files"].size() == 2);
  CHECK(all.json["files"][0]["action"] == "hide");
  CHECK(!all.json["nextFileId"].is_null());
  Reply rest = b2.Call("b2_list_file_versions", {{"bucketId", bucket}, {"prefix", "top"},
                                                 {"startFileName", all.json["nextFileName"]},
                                                 {"startFileId", all.json["nextFileId"]}});
  REQUIRE(rest.json["files"].size() == 1);
  CHECK(rest.json["nextFileName"].is_null());

  // Delete the hide marker and the newest version: the first version is visible again.
  CHECK(b2.Call("b2_delete_file_version", {{"fileName", "top"}, {"fileId", hidden.json["fileId"]}}).status == 200);
  CHECK(b2.Call("b2_delete_file_version", {{"fileName", "top"}, {"fileId", v2.json["fileId"]}}).status == 200);
  CHECK(b2.DownloadByName("bucket-one", "top").body == "t");
  Reply gone = b2.Call("b2_delete_file_version", {{"fileName", "top"}, {"fileId", v2.json["fileId"]}});
  CHECK(gone.status == 400);
  CHECK(gone.json["code"] == "file_not_present");
  CHECK(b2.Call("b2_get_file_info", {{"fileId", v2.json["fileId"]}}).status == 404);
}

TEST_CASE("capabilities: an append-only key cannot delete; v1 shapes carry size") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--key",
                                                 "append:appendsecret:listBuckets,listFiles,readFiles,writeFiles",
                                                 "--bucket", "bucket-one"});
  B2 append(emulator.port(), "append", "appendsecret", 1);
  Reply auth = append.Authorize();
  REQUIRE(auth.status == 200);
  CHECK(auth.json["allowed"]["capabilities"].size() == 4);
  std::string bucket = append.BucketId("bucket-one");
  Reply up = append.Upload(bucket, "chunk", "payload");
  REQUIRE(up.status == 200);
  CHECK(up.json["size"] == 7);  // v1
  Reply del = append.Call("b2_delete_file_version", {{"fileName", "chunk"}, {"fileId", up.json["fileId"]}});
  CHECK(del.status == 401);
  CHECK(del.json["code"] == "unauthorized");
  CHECK(append.Call("b2_create_bucket", {{"accountId", append.account_id}, {"bucketName", "other-bucket"},
                                         {"bucketType", "allPrivate"}}).status == 401);
  CHECK(append.Call("b2_create_key", {{"accountId", append.account_id}, {"keyName", "k"},
                                      {"capabilities", {"listFiles"}}}).status == 401);
  // The hide marker is allowed (writeFiles), and the version still exists.
  CHECK(append.Call("b2_hide_file", {{"bucketId", bucket}, {"fileName", "chunk"}}).status == 200);
  CHECK(append.DownloadById(up.json["fileId"]).body == "payload");

  B2 master(emulator.port());
  REQUIRE(master.Authorize().status == 200);
  CHECK(master.Call("b2_delete_file_version", {{"fileName", "chunk"}, {"fileId", up.json["fileId"]}}).status == 200);
}

TEST_CASE("application keys: create, restrict, list, delete") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one", "--bucket",
                                                 "bucket-two"});
  B2 master(emulator.port());
  REQUIRE(master.Authorize().status == 200);
  std::string one = master.BucketId("bucket-one");
  std::string two = master.BucketId("bucket-two");
  Reply created = master.Call("b2_create_key", {{"accountId", master.account_id}, {"keyName", "backup-key"},
                                                {"capabilities", {"listBuckets", "listFiles", "readFiles", "writeFiles"}},
                                                {"bucketId", one}});
  REQUIRE(created.status == 200);
  std::string key_id = created.json["applicationKeyId"];
  B2 restricted(emulator.port(), key_id, created.json["applicationKey"], 3);
  Reply auth = restricted.Authorize();
  REQUIRE(auth.status == 200);
  CHECK(auth.json["apiInfo"]["storageApi"]["bucketId"] == one);
  CHECK(auth.json["apiInfo"]["storageApi"]["bucketName"] == "bucket-one");
  CHECK(restricted.Upload(one, "a", "x").status == 200);
  CHECK(restricted.Call("b2_get_upload_url", {{"bucketId", two}}).status == 401);
  CHECK(restricted.Call("b2_list_buckets", {{"accountId", restricted.account_id}}).status == 401);
  CHECK(restricted.Call("b2_list_buckets", {{"accountId", restricted.account_id}, {"bucketId", one}}).status == 200);

  Reply listed = master.Call("b2_list_keys", json::object());
  REQUIRE(listed.status == 200);
  bool found = false;
  for (const auto &k : listed.json["keys"]) {
    found = found || k["applicationKeyId"] == key_id;
    CHECK(!k.contains("applicationKey"));
  }
  CHECK(found);
  CHECK(master.Call("b2_delete_key", {{"applicationKeyId", key_id}}).status == 200);
  CHECK(restricted.Call("b2_list_buckets", {{"accountId", restricted.account_id}, {"bucketId", one}}).status == 401);
  CHECK(restricted.Authorize().status == 401);
}

TEST_CASE("Object Lock: governance retention blocks deletes unless bypassed by a capable key") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--key",
                                                 "nobypass:s2:listBuckets,listFiles,readFiles,writeFiles,deleteFiles,readFileRetentions,writeFileRetentions",
                                                 "--bucket", "locked-bucket:object-lock", "--bucket", "plain-bucket"});
  B2 master(emulator.port());
  REQUIRE(master.Authorize().status == 200);
  std::string locked = master.BucketId("locked-bucket");
  auto until = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count() + 3600000);
  httplib::Headers lock = {{"X-Bz-File-Retention-Mode", "governance"},
                           {"X-Bz-File-Retention-Retain-Until-Timestamp", until}};
  Reply up = master.Upload(locked, "m", "manifest", lock);
  REQUIRE(up.status == 200);
  CHECK(up.json["fileRetention"]["value"]["mode"] == "governance");
  CHECK(master.DownloadByName("locked-bucket", "m").Header("X-Bz-File-Retention-Mode") == "governance");
  CHECK(master.Upload(master.BucketId("plain-bucket"), "m", "x", lock).status == 400);

  B2 nobypass(emulator.port(), "nobypass", "s2");
  REQUIRE(nobypass.Authorize().status == 200);
  Reply refused = nobypass.Call("b2_delete_file_version", {{"fileName", "m"}, {"fileId", up.json["fileId"]}});
  CHECK(refused.status == 403);
  CHECK(refused.json["code"] == "access_denied");
  CHECK(nobypass.Call("b2_delete_file_version", {{"fileName", "m"}, {"fileId", up.json["fileId"]},
                                                 {"bypassGovernance", true}}).status == 401);
  CHECK(master.Call("b2_delete_file_version", {{"fileName", "m"}, {"fileId", up.json["fileId"]}}).status == 403);
  CHECK(master.Call("b2_delete_file_version", {{"fileName", "m"}, {"fileId", up.json["fileId"]},
                                               {"bypassGovernance", true}}).status == 200);

  Reply compliant = master.Upload(locked, "c", "x", {{"X-Bz-File-Retention-Mode", "compliance"},
                                                      {"X-Bz-File-Retention-Retain-Until-Timestamp", until}});
  REQUIRE(compliant.status == 200);
  CHECK(master.Call("b2_delete_file_version", {{"fileName", "c"}, {"fileId", compliant.json["fileId"]},
                                               {"bypassGovernance", true}}).status == 403);
}

TEST_CASE("data persists across a restart; old tokens expire; SIGTERM stops cleanly") {
  TempDir tmp;
  std::string payload = RandomBytes(100000, 7);
  std::string file_id;
  std::string old_token;
  std::string bucket_id;
  {
    EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
    B2 b2(emulator.port());
    REQUIRE(b2.Authorize().status == 200);
    bucket_id = b2.BucketId("bucket-one");
    REQUIRE(b2.Call("b2_create_bucket", {{"accountId", b2.account_id}, {"bucketName", "made-later"},
                                         {"bucketType", "allPrivate"}}).status == 200);
    Reply up = b2.Upload(bucket_id, "dir/file.bin", payload, {{"X-Bz-Info-Src_Last_Modified_Millis", "123"}});
    REQUIRE(up.status == 200);
    file_id = up.json["fileId"];
    Reply start = b2.Call("b2_start_large_file", {{"bucketId", bucket_id}, {"fileName", "big"},
                                                  {"contentType", "b2/x-auto"}});
    REQUIRE(start.status == 200);
    old_token = b2.token;
    CHECK(emulator.Stop() == 0);
  }
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  b2.token = old_token;
  Reply stale = b2.Call("b2_list_buckets", {{"accountId", "x"}});
  CHECK(stale.status == 401);
  CHECK(stale.json["code"] == "expired_auth_token");
  REQUIRE(b2.Authorize().status == 200);
  CHECK(b2.BucketId("bucket-one") == bucket_id);
  CHECK(!b2.BucketId("made-later").empty());
  Reply down = b2.DownloadByName("bucket-one", "dir/file.bin");
  CHECK(down.status == 200);
  CHECK(down.body == payload);
  CHECK(down.Header("X-Bz-File-Id") == file_id);
  CHECK(down.Header("X-Bz-Info-src_last_modified_millis") == "123");
  Reply unfinished = b2.Call("b2_list_unfinished_large_files", {{"bucketId", bucket_id}});
  CHECK(unfinished.json["files"].size() == 1);
}

}  // namespace dhanbak::emulator::test::api_test

// Uploads, downloads and large files: checksums, names, info headers, ranges, upload tokens.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "emulator/emulator_fixture.hpp"

namespace dhanbak::emulator::test::transfer_test {  // this file's names, apart from its unity batch's

using nlohmann::json;

namespace {

std::string PathOf(const std::string &url) { return url.substr(url.find('/', 7)); }

}  // namespace

TEST_CASE("uploads: SHA-1 modes, names, file info, content length") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  REQUIRE(b2.Authorize().status == 200);
  std::string bucket = b2.BucketId("bucket-one");
  Reply url = b2.Call("b2_get_upload_url", {{"bucketId", bucket}});
  REQUIRE(url.status == 200);
  std::string upload_url = url.json["uploadUrl"];
  std::string token = url.json["authorizationToken"];
  CHECK(upload_url.rfind(emulator.url() + "/b2api/v2/b2_upload_file/", 0) == 0);

  Reply mismatch = b2.UploadTo(upload_url, token, "a", "data", {{"X-Bz-Content-Sha1", Sha1("other")}});
  CHECK(mismatch.status == 400);
  CHECK(mismatch.json["code"] == "bad_request");

  Reply at_end = b2.UploadTo(upload_url, token, "b", "data" + Sha1("data"), {{"X-Bz-Content-Sha1", "hex_digits_at_end"}});
  REQUIRE(at_end.status == 200);
  CHECK(at_end.json["contentLength"] == 4);
  CHECK(at_end.json["contentSha1"] == Sha1("data"));
  CHECK(b2.DownloadByName("bucket-one", "b").body == "data");
  CHECK(b2.UploadTo(upload_url, token, "b2", "data" + Sha1("datX"), {{"X-Bz-Content-Sha1", "hex_digits_at_end"}})
            .status == 400);

  Reply unverified = b2.UploadTo(upload_url, token, "c", "data", {{"X-Bz-Content-Sha1", "do_not_verify"}});
  REQUIRE(unverified.status == 200);
  CHECK(unverified.json["contentSha1"] == "unverified:" + Sha1("data"));

  // Names: percent-encoded UTF-8 with %2B for a literal plus; rules on bad names.
  Reply encoded = b2.UploadTo(upload_url, token, "chunks/ab/c%20d%2B%C3%A9.bin", "x");
  REQUIRE(encoded.status == 200);
  CHECK(encoded.json["fileName"] == "chunks/ab/c d+\xC3\xA9.bin");
  CHECK(b2.DownloadByName("bucket-one", "chunks/ab/c%20d%2B%C3%A9.bin").body == "x");
  // In URLs '+' means a space (raw request: httplib's client would re-encode the '+').
  std::string plus = RawExchange(emulator.port(), "GET /file/bucket-one/chunks/ab/c+d%2B%C3%A9.bin HTTP/1.1\r\n"
                                                  "Host: x\r\nAuthorization: " + b2.token + "\r\nConnection: close\r\n\r\n");
  CHECK(plus.rfind("HTTP/1.1 200", 0) == 0);
  for (const char *bad : {"/lead", "trail/", "a//b", "ctl%01", "del%7F", "back%5Cslash"}) {
    CHECK_MESSAGE(b2.UploadTo(upload_url, token, bad, "x").status == 400, bad);
  }
  CHECK(b2.UploadTo(upload_url, token, std::string(1025, 'n'), "x").status == 400);

  // X-Bz-Info-*: case-insensitive header names, lower-cased keys, decoded values; b2- reserved.
  Reply info = b2.UploadTo(upload_url, token, "info", "x",
                           {{"X-Bz-Info-Src_Last_Modified_Millis", "42"}, {"x-bz-info-Note", "two%20words"}});
  REQUIRE(info.status == 200);
  CHECK(info.json["fileInfo"]["src_last_modified_millis"] == "42");
  CHECK(info.json["fileInfo"]["note"] == "two words");
  std::string got = RawExchange(emulator.port(), "GET /file/bucket-one/info HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                                                 b2.token + "\r\nConnection: close\r\n\r\n");
  CHECK(got.find("X-Bz-Info-note: two%20words\r\n") != std::string::npos);  // values go out percent-encoded
  CHECK(got.find("X-Bz-Info-src_last_modified_millis: 42\r\n") != std::string::npos);
  CHECK(b2.UploadTo(upload_url, token, "r", "x", {{"X-Bz-Info-b2-bogus", "1"}}).status == 400);
  Reply disposition = b2.UploadTo(upload_url, token, "d", "x", {{"X-Bz-Info-b2-content-disposition", "attachment"}});
  REQUIRE(disposition.status == 200);
  CHECK(b2.DownloadByName("bucket-one", "d").Header("Content-Disposition") == "attachment");
  httplib::Headers eleven;
  for (int i = 0; i < 11; ++i) eleven.emplace("X-Bz-Info-k" + std::to_string(i), "v");
  CHECK(b2.UploadTo(upload_url, token, "many", "x", eleven).status == 400);
  CHECK(b2.UploadTo(upload_url, token, "t", "x", {{"Content-Type", "b2/x-auto"}}).status == 200);

  // Content-Length is required: a chunked upload is refused.
  std::string chunked = RawExchange(emulator.port(),
                                    "POST " + PathOf(upload_url) + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + token +
                                        "\r\nX-Bz-File-Name: ch\r\nContent-Type: text/plain\r\nX-Bz-Content-Sha1: " +
                                        Sha1("abc") + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                        "3\r\nabc\r\n0\r\n\r\n");
  CHECK(chunked.rfind("HTTP/1.1 411", 0) == 0);
  CHECK(b2.DownloadByName("bucket-one", "ch").status == 404);
}

TEST_CASE("upload tokens: pairing with the URL, account/upload separation, one upload at a time") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  REQUIRE(b2.Authorize().status == 200);
  std::string bucket = b2.BucketId("bucket-one");
  Reply first = b2.Call("b2_get_upload_url", {{"bucketId", bucket}});
  Reply second = b2.Call("b2_get_upload_url", {{"bucketId", bucket}});
  std::string url1 = first.json["uploadUrl"];
  std::string token1 = first.json["authorizationToken"];
  std::string token2 = second.json["authorizationToken"];
  CHECK(b2.UploadTo(url1, token2, "x", "x").json["code"] == "bad_auth_token");
  CHECK(b2.UploadTo(url1, b2.token, "x", "x").json["code"] == "bad_auth_token");
  CHECK(b2.UploadTo(url1, "", "x", "x").json["code"] == "missing_auth_token");
  B2 upload_as_account(emulator.port());
  upload_as_account.token = token1;
  CHECK(upload_as_account.Call("b2_list_buckets", {{"accountId", b2.account_id}}).json["code"] == "bad_auth_token");

  // Hold an upload open on url1 (headers and half the body), then try a second upload on it.
  std::string data = RandomBytes(1000, 3);
  std::string head = "POST " + PathOf(url1) + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + token1 +
                     "\r\nX-Bz-File-Name: slow\r\nContent-Type: text/plain\r\nX-Bz-Content-Sha1: " + Sha1(data) +
                     "\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
  std::string held_response;
  std::thread held([&] {
    // RawExchange sends everything at once; emulate a slow sender with two writes instead.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(emulator.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
    std::string part1 = head + data.substr(0, 500);
    (void)!write(fd, part1.data(), part1.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    (void)!write(fd, data.data() + 500, 500);
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) held_response.append(buffer, static_cast<size_t>(n));
    close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Reply concurrent = b2.UploadTo(url1, token1, "other", "x");
  held.join();
  CHECK(concurrent.status == 400);
  CHECK(concurrent.json["code"] == "auth_token_limit");
  CHECK(held_response.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(b2.DownloadByName("bucket-one", "slow").body == data);
  CHECK(b2.UploadTo(url1, token1, "after", "x").status == 200);  // serial reuse is fine
}

TEST_CASE("downloads: by name and id, HEAD, ranges, 416, headers") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one"});
  B2 b2(emulator.port());
  REQUIRE(b2.Authorize().status == 200);
  std::string bucket = b2.BucketId("bucket-one");
  std::string data = RandomBytes(200000, 9);
  Reply up = b2.Upload(bucket, "obj", data, {{"Content-Type", "application/x-test"}});
  REQUIRE(up.status == 200);

  Reply whole = b2.DownloadByName("bucket-one", "obj");
  CHECK(whole.status == 200);
  CHECK(whole.body == data);
  CHECK(whole.Header("X-Bz-Content-Sha1") == Sha1(data));
  CHECK(whole.Header("X-Bz-File-Id") == up.json["fileId"]);
  CHECK(whole.Header("X-Bz-File-Name") == "obj");
  CHECK(whole.Header("Content-Type") == "application/x-test");
  CHECK(!whole.Header("X-Bz-Upload-Timestamp").empty());
  CHECK(b2.DownloadById(up.json["fileId"]).body == data);
  // Like every call, download by id also takes its fileId in a POST body.
  Reply posted = b2.Call("b2_download_file_by_id", {{"fileId", up.json["fileId"]}});
  CHECK(posted.status == 200);
  CHECK(posted.body == data);

  Reply head = b2.DownloadByName("bucket-one", "obj", {}, true);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.Header("Content-Length") == "200000");

  Reply range = b2.DownloadByName("bucket-one", "obj", {{"Range", "bytes=100-199"}});
  CHECK(range.status == 206);
  CHECK(range.body == data.substr(100, 100));
  CHECK(range.Header("Content-Range") == "bytes 100-199/200000");
  CHECK(range.Header("X-Bz-Content-Sha1") == Sha1(data));  // still the whole file's
  Reply tail = b2.DownloadById(up.json["fileId"], {{"Range", "bytes=199990-"}});
  CHECK(tail.status == 206);
  CHECK(tail.body == data.substr(199990));
  Reply suffix = b2.DownloadByName("bucket-one", "obj", {{"Range", "bytes=-10"}});
  CHECK(suffix.body == data.substr(199990));
  Reply past = b2.DownloadByName("bucket-one", "obj", {{"Range", "bytes=200000-"}});
  CHECK(past.status == 416);
  CHECK(past.json["code"] == "range_not_satisfiable");
  Reply clamp = b2.DownloadByName("bucket-one", "obj", {{"Range", "bytes=199000-10000000"}});
  CHECK(clamp.status == 206);
  CHECK(clamp.body.size() == 1000);

  CHECK(b2.DownloadByName("bucket-one", "missing").status == 404);
  B2 anon(emulator.port());
  CHECK(anon.DownloadByName("bucket-one", "obj").status == 401);
  // The token may also travel as a query parameter.
  httplib::Client client("127.0.0.1", emulator.port());
  auto query = client.Get(("/file/bucket-one/obj?Authorization=" + b2.token).c_str());
  REQUIRE(query);
  CHECK(query->status == 200);
}

TEST_CASE("large files: parts, minimum part size, finish, list, cancel") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "bucket-one",
                                                 "--min-part-size", "1000", "--recommended-part-size", "2000"});
  B2 b2(emulator.port(), "kid", "ksecret", 3);
  Reply auth = b2.Authorize();
  CHECK(auth.json["apiInfo"]["storageApi"]["absoluteMinimumPartSize"] == 1000);
  std::string bucket = b2.BucketId("bucket-one");
  Reply start = b2.Call("b2_start_large_file", {{"bucketId", bucket}, {"fileName", "big.bin"},
                                                {"contentType", "b2/x-auto"},
                                                {"fileInfo", {{"Large_File_Sha1", "abc"}}}});
  REQUIRE(start.status == 200);
  CHECK(start.json["action"] == "start");
  CHECK(start.json["fileInfo"]["large_file_sha1"] == "abc");
  std::string file_id = start.json["fileId"];
  Reply part_url = b2.Call("b2_get_upload_part_url", {{"fileId", file_id}});
  REQUIRE(part_url.status == 200);
  std::string url = part_url.json["uploadUrl"];
  std::string token = part_url.json["authorizationToken"];
  std::vector<std::string> parts = {RandomBytes(1500, 1), RandomBytes(500, 2), RandomBytes(300, 3)};
  auto upload_part = [&](int number, const std::string &data) {
    return b2.UploadTo(url, token, "", data, {{"X-Bz-Part-Number", std::to_string(number)}});
  };
  REQUIRE(upload_part(1, parts[0]).status == 200);
  REQUIRE(upload_part(2, parts[1]).status == 200);  // too small unless last
  Reply part3 = upload_part(3, parts[2]);
  REQUIRE(part3.status == 200);
  CHECK(part3.json["partNumber"] == 3);
  CHECK(part3.json["contentSha1"] == Sha1(parts[2]));
  CHECK(upload_part(0, "x").status == 400);
  CHECK(upload_part(10001, "x").status == 400);

  Reply listed = b2.Call("b2_list_parts", {{"fileId", file_id}, {"maxPartCount", 2}});
  REQUIRE(listed.json["parts"].size() == 2);
  CHECK(listed.json["nextPartNumber"] == 3);
  Reply unfinished = b2.Call("b2_list_unfinished_large_files", {{"bucketId", bucket}});
  REQUIRE(unfinished.json["files"].size() == 1);
  CHECK(unfinished.json["files"][0]["fileId"] == file_id);
  CHECK(b2.Call("b2_list_file_names", {{"bucketId", bucket}}).json["files"].empty());

  json sha1s = {Sha1(parts[0]), Sha1(parts[1]), Sha1(parts[2])};
  Reply too_small = b2.Call("b2_finish_large_file", {{"fileId", file_id}, {"partSha1Array", sha1s}});
  CHECK(too_small.status == 400);
  CHECK(b2.Call("b2_finish_large_file", {{"fileId", file_id}, {"partSha1Array", {Sha1(parts[0]), Sha1("x"), Sha1(parts[2])}}})
            .json["code"] == "part_sha1_mismatch");
  CHECK(b2.Call("b2_finish_large_file", {{"fileId", file_id}, {"partSha1Array", {Sha1(parts[0]), Sha1(parts[1]), Sha1(parts[2]), Sha1("x")}}})
            .json["code"] == "missing_part");
  // Re-sending part 2 replaces it.
  parts[1] = RandomBytes(1200, 4);
  REQUIRE(upload_part(2, parts[1]).status == 200);
  sha1s = {Sha1(parts[0]), Sha1(parts[1]), Sha1(parts[2])};
  Reply finished = b2.Call("b2_finish_large_file", {{"fileId", file_id}, {"partSha1Array", sha1s}});
  REQUIRE(finished.status == 200);
  CHECK(finished.json["action"] == "upload");
  CHECK(finished.json["contentSha1"] == "none");
  CHECK(finished.json["contentLength"] == 3000);
  Reply down = b2.DownloadByName("bucket-one", "big.bin");
  CHECK(down.body == parts[0] + parts[1] + parts[2]);
  CHECK(down.Header("X-Bz-Content-Sha1") == "none");
  CHECK(down.Header("X-Bz-Info-large_file_sha1") == "abc");
  CHECK(b2.Call("b2_list_unfinished_large_files", {{"bucketId", bucket}}).json["files"].empty());
  CHECK(upload_part(4, "late").status == 400);

  Reply start2 = b2.Call("b2_start_large_file", {{"bucketId", bucket}, {"fileName", "cancel.bin"},
                                                 {"contentType", "application/octet-stream"}});
  std::string id2 = start2.json["fileId"];
  Reply cancel = b2.Call("b2_cancel_large_file", {{"fileId", id2}});
  CHECK(cancel.status == 200);
  CHECK(cancel.json["fileName"] == "cancel.bin");
  CHECK(b2.Call("b2_get_upload_part_url", {{"fileId", id2}}).status == 400);
}

}  // namespace dhanbak::emulator::test::transfer_test

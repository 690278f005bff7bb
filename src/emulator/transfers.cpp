// Uploads (b2_upload_file, b2_upload_part) and downloads (by name and by id).
#include <cctype>
#include <fstream>
#include <memory>

#include <httplib.h>

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/emulator.hpp"
#include "emulator/encoding.hpp"
#include "emulator/file_rules.hpp"
#include "emulator/params.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

namespace {

bool IsHex40(const std::string &text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Applies X-Bz-Content-Sha1 to a received body: strips trailing hex digits when the client sent
// them after the data, verifies the checksum, and returns the SHA-1 to store.
std::string VerifiedSha1(const httplib::Request &req, std::string &body) {
  std::string declared = ToLower(req.get_header_value("X-Bz-Content-Sha1"));
  if (declared.empty()) throw BadRequest("X-Bz-Content-Sha1 header is required");
  if (declared == "hex_digits_at_end") {
    if (body.size() < 40) throw BadRequest("body too short for hex_digits_at_end");
    declared = ToLower(body.substr(body.size() - 40));
    body.resize(body.size() - 40);
    if (!IsHex40(declared)) throw BadRequest("the last 40 bytes of the body are not a hex SHA1");
  }
  std::string actual = Sha1Hex(body);
  if (declared == "do_not_verify") return "unverified:" + actual;
  if (!IsHex40(declared)) throw BadRequest("X-Bz-Content-Sha1 must be 40 hex digits, hex_digits_at_end or do_not_verify");
  if (declared != actual) throw BadRequest("Checksum did not match data received");
  return actual;
}

std::optional<std::string> Header(const httplib::Request &req, const char *name) {
  if (!req.has_header(name)) return std::nullopt;
  return req.get_header_value(name);
}

std::string InfoHeaderValue(const std::string &value) { return PercentEncode(value); }

}  // namespace

json Emulator::UploadFile(Call &call, const UploadGrant &grant) {
  const httplib::Request &req = call.req;
  auto raw_name = Header(req, "X-Bz-File-Name");
  if (!raw_name) throw BadRequest("X-Bz-File-Name header is required");
  // cpp-httplib 0.11 percent-decodes every header value itself (without turning '+' into a
  // space), so the value is used as it comes: decoding again would mangle names holding '%'.
  // The one B2 rule lost is '+' meaning space in headers; every known client sends %20.
  auto name = raw_name;
  if (std::string problem = FileNameProblem(*name); !problem.empty()) throw BadRequest(problem);
  auto content_type = Header(req, "Content-Type");
  if (!content_type || content_type->empty()) throw BadRequest("Content-Type header is required");

  FileVersion version;
  version.name = *name;
  version.content_type = ResolveContentType(*content_type, *name);
  // Header names are case-insensitive (Go clients send X-Bz-Info-Src_last_modified_millis);
  // keys are stored lower-cased.
  for (const auto &[header, value] : req.headers) {
    if (header.size() <= 10 || ToLower(header.substr(0, 10)) != "x-bz-info-") continue;
    version.info[ToLower(header.substr(10))] = value;  // already decoded by httplib, see above
  }
  CheckFileInfo(version.name, version.info);
  version.sha1 = VerifiedSha1(req, call.body);
  version.md5 = Md5Hex(call.body);
  version.length = static_cast<int64_t>(call.body.size());

  std::optional<int64_t> until;
  if (auto text = Header(req, "X-Bz-File-Retention-Retain-Until-Timestamp")) {
    try {
      until = std::stoll(*text);
    } catch (const std::exception &) {
      throw BadRequest("X-Bz-File-Retention-Retain-Until-Timestamp must be milliseconds");
    }
  }
  {
    std::lock_guard lock(store_mutex_);
    const Key *key = store_.FindKey(grant.key_id);
    if (!key) throw ApiError(401, "bad_auth_token", "the application key of this token was deleted");
    if (!key->Has("writeFiles")) throw Unauthorized("application key lacks the writeFiles capability");
    CheckNameAllowed(*key, version.name);
    const Bucket *bucket = store_.FindBucketById(grant.bucket_id);
    if (!bucket) throw ApiError(400, "bad_bucket_id", "bucket no longer exists");
    ApplyLockSettings(version, *key, *bucket, Header(req, "X-Bz-File-Retention-Mode"), until,
                      Header(req, "X-Bz-File-Legal-Hold"));
    version.id = NewFileId(bucket->id);
    version.bucket_id = bucket->id;
    version.action = "upload";
  }
  // The object is durable under its final name before the metadata mentions it.
  Store::WriteFileAtomically(store_.ObjectPath(version.id), call.body);
  std::lock_guard lock(store_mutex_);
  const Key *key = store_.FindKey(grant.key_id);
  if (!key) throw ApiError(401, "bad_auth_token", "the application key of this token was deleted");
  version.upload_ms = NowMs();
  version.seq = store_.NextSeq();
  store_.PutVersion(version);
  return FileJson(version, call.version, *key);
}

json Emulator::UploadPart(Call &call, const UploadGrant &grant) {
  const httplib::Request &req = call.req;
  std::string number_text = req.get_header_value("X-Bz-Part-Number");
  int number = 0;
  try {
    number = std::stoi(number_text);
  } catch (const std::exception &) {
    throw BadRequest("X-Bz-Part-Number is required");
  }
  if (number < 1 || number > 10000) throw BadRequest("X-Bz-Part-Number must be between 1 and 10000");
  Part part;
  part.number = number;
  part.sha1 = VerifiedSha1(req, call.body);
  part.md5 = Md5Hex(call.body);
  part.length = static_cast<int64_t>(call.body.size());
  {
    std::lock_guard lock(store_mutex_);
    const FileVersion *version = store_.FindVersion(grant.file_id);
    if (!version || version->action != "start") throw BadRequest("No active large file with id " + grant.file_id);
  }
  std::filesystem::create_directories(store_.PartPath(grant.file_id, number).parent_path());
  Store::WriteFileAtomically(store_.PartPath(grant.file_id, number), call.body);
  std::lock_guard lock(store_mutex_);
  const FileVersion *version = store_.FindVersion(grant.file_id);
  if (!version || version->action != "start") throw BadRequest("No active large file with id " + grant.file_id);
  part.upload_ms = NowMs();
  store_.PutPart(grant.file_id, part);
  return {{"fileId", grant.file_id}, {"partNumber", part.number}, {"contentLength", part.length},
          {"contentSha1", part.sha1}, {"contentMd5", part.md5}, {"uploadTimestamp", part.upload_ms},
          {"serverSideEncryption", {{"algorithm", nullptr}, {"mode", nullptr}}}};
}

void Emulator::Download(Call &call) {
  FileVersion version;
  {
    std::lock_guard lock(store_mutex_);
    const Bucket *bucket = nullptr;
    const FileVersion *found = nullptr;
    if (call.api == "b2_download_file_by_name") {
      bucket = store_.FindBucketByName(call.bucket_name);
      if (!bucket) throw NotFound("Bucket does not exist: " + call.bucket_name);
      auto names_it = store_.Names(bucket->id).find(call.file_name);
      if (names_it != store_.Names(bucket->id).end()) {
        for (const std::string &id : names_it->second) {
          const FileVersion *candidate = store_.FindVersion(id);
          if (candidate->action == "start") continue;
          if (candidate->action == "upload") found = candidate;
          break;  // a hide marker hides the name
        }
      }
    } else {
      found = store_.FindVersion(RequireString(call.params, "fileId"));
      if (found) bucket = store_.FindBucketById(found->bucket_id);
    }
    if (!bucket || bucket->type != "allPublic") {
      const Key &key = AuthorizeCall(call, "readFiles");
      if (bucket) CheckBucketAllowed(key, bucket->id);
      if (found) CheckNameAllowed(key, found->name);
    }
    if (!found || found->action != "upload") throw NotFound("File not present");
    version = *found;
  }

  // Range: bytes=a-b | a- | -n. Unparseable ranges are ignored (whole file), as B2 did.
  int64_t size = version.length;
  int64_t first = 0;
  int64_t last = size - 1;
  bool ranged = false;
  std::string range = call.req.get_header_value("Range");
  if (range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos) {
    std::string spec = range.substr(6);
    auto dash = spec.find('-');
    try {
      if (dash != std::string::npos) {
        std::string a = spec.substr(0, dash);
        std::string b = spec.substr(dash + 1);
        if (a.empty() && !b.empty()) {
          int64_t suffix = std::stoll(b);
          first = std::max<int64_t>(0, size - suffix);
          ranged = true;
        } else if (!a.empty()) {
          first = std::stoll(a);
          if (!b.empty()) last = std::min<int64_t>(last, std::stoll(b));
          ranged = b.empty() || std::stoll(b) >= first;
          if (!ranged) first = 0, last = size - 1;
        }
      }
    } catch (const std::exception &) {
      ranged = false;
      first = 0;
      last = size - 1;
    }
    if (ranged && first >= size) {
      call.res.set_header("Content-Range", "bytes */" + std::to_string(size));
      throw ApiError(416, "range_not_satisfiable", "The range requested is not satisfiable");
    }
  }

  httplib::Response &res = call.res;
  res.status = ranged ? 206 : 200;
  if (ranged) {
    res.set_header("Content-Range",
                   "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
  }
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("X-Bz-File-Id", version.id);
  res.set_header("X-Bz-File-Name", PercentEncode(version.name));
  res.set_header("X-Bz-Content-Sha1", version.sha1);
  res.set_header("X-Bz-Upload-Timestamp", std::to_string(version.upload_ms));
  static const std::map<std::string, std::string> kReserved = {
      {"b2-content-disposition", "Content-Disposition"}, {"b2-content-language", "Content-Language"},
      {"b2-expires", "Expires"}, {"b2-cache-control", "Cache-Control"},
      {"b2-content-encoding", "Content-Encoding"}};
  for (const auto &[key, value] : version.info) {
    auto reserved = kReserved.find(key);
    if (reserved != kReserved.end()) {
      res.set_header(reserved->second, value);
    } else {
      res.set_header("X-Bz-Info-" + key, InfoHeaderValue(value));
    }
  }
  if (!version.retention_mode.empty()) {
    res.set_header("X-Bz-File-Retention-Mode", version.retention_mode);
    res.set_header("X-Bz-File-Retention-Retain-Until-Timestamp", std::to_string(version.retain_until_ms));
  }
  if (version.legal_hold) res.set_header("X-Bz-File-Legal-Hold", "on");

  size_t length = size == 0 ? 0 : static_cast<size_t>(last - first + 1);
  auto file = std::make_shared<std::ifstream>(store_.ObjectPath(version.id), std::ios::binary);
  if (!*file) throw std::runtime_error("object file missing for " + version.id);
  // Transfer faults act on the body: stop after a share of it, or flip one byte.
  std::optional<FaultRule> fault = call.fault.rule;
  if (fault && fault->kind != "drop" && fault->kind != "corrupt") fault.reset();
  if (fault) stats_.CountFault(fault->kind);
  size_t fault_at = fault ? static_cast<size_t>(static_cast<double>(length) * fault->at_fraction) : 0;
  if (fault && fault->kind == "corrupt" && fault_at >= length && length > 0) fault_at = length - 1;
  const httplib::Request *req = &call.req;
  if (length == 0) {
    // httplib's content provider sends no Content-Length for an empty body, which leaves a
    // keep-alive client waiting; an empty plain body carries "Content-Length: 0".
    res.set_content("", version.content_type);
    return;
  }
  res.set_content_provider(
      length, version.content_type,
      [this, file, first, fault, fault_at, req](size_t offset, size_t want, httplib::DataSink &sink) {
        char buffer[65536];
        size_t n = std::min(want, sizeof(buffer));
        if (fault && fault->kind == "drop" && offset + n > fault_at) {
          n = fault_at > offset ? fault_at - offset : 0;
          file->seekg(static_cast<std::streamoff>(first + static_cast<int64_t>(offset)));
          file->read(buffer, static_cast<std::streamsize>(n));
          if (n > 0) sink.write(buffer, n);
          DropConnection(*req);
          return false;
        }
        file->seekg(static_cast<std::streamoff>(first + static_cast<int64_t>(offset)));
        file->read(buffer, static_cast<std::streamsize>(n));
        if (static_cast<size_t>(file->gcount()) != n) return false;
        if (fault && fault->kind == "corrupt" && fault_at >= offset && fault_at < offset + n) {
          buffer[fault_at - offset] = static_cast<char>(buffer[fault_at - offset] ^ 0xFF);
        }
        sink.write(buffer, n);
        return true;
      });
}

}  // namespace dhanbak::emulator

// NormalizeRepositoryUrl — one spelling per repository, checked before anything is written.
#include <string>
#include <vector>

#include "dhanbak/config.hpp"
#include "dhanbak/error.hpp"

namespace dhanbak {
namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string NormalizeRepositoryUrl(const std::string& url, const std::string& what) {
  constexpr std::string_view kFile = "file://";
  constexpr std::string_view kB2 = "b2://";
  if (url.find('\0') != std::string::npos || url.find('\n') != std::string::npos) {
    throw Error(ErrorCode::kConfig, what + " contains a control character");
  }
  if (url.starts_with(kFile)) {
    std::string path = url.substr(kFile.size());
    // Only local absolute paths: "file://host/x" would silently mean something else.
    if (path.empty() || path.front() != '/') {
      throw Error(ErrorCode::kConfig, what + " must be file:///ABSOLUTE/PATH (three slashes)");
    }
    // Lexical normalisation ('.', '..', '//', trailing '/'), like realpath without following
    // symbolic links: the same directory spelled differently is the same catalog repository.
    std::vector<std::string> kept;
    for (const auto& seg : Segments(path)) {
      if (seg.empty() || seg == ".") continue;
      if (seg == "..") {
        if (!kept.empty()) kept.pop_back();
        continue;
      }
      kept.push_back(seg);
    }
    if (kept.empty()) throw Error(ErrorCode::kConfig, what + " must not be the root directory");
    std::string out(kFile);
    for (const auto& seg : kept) out += "/" + seg;
    return out;
  }
  if (url.starts_with(kB2)) {
    std::string rest = url.substr(kB2.size());
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto segments = Segments(rest);
    const std::string& bucket = segments.front();
    bool bucket_ok = bucket.size() >= 6 && bucket.size() <= 63;
    for (char c : bucket) {
      bucket_ok = bucket_ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-');
    }
    if (!bucket_ok) throw Error(ErrorCode::kConfig, what + ": the bucket name must be 6-63 letters, digits or '-'");
    for (size_t i = 1; i < segments.size(); ++i) {
      const std::string& seg = segments[i];
      // B2 file names are literal: "a/../b" is not "b", and "a//b" is another name than "a/b".
      if (seg.empty() || seg == "." || seg == "..") {
        throw Error(ErrorCode::kConfig,
                    what + ": the prefix must not contain empty, '.' or '..' segments (b2://BUCKET/PREFIX/...)");
      }
    }
    return std::string(kB2) + rest;
  }
  throw Error(ErrorCode::kConfig, what + " has an unknown scheme (use file:///PATH or b2://BUCKET/PREFIX)");
}

}  // namespace dhanbak

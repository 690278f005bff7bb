#include "emulator/digest.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace dhanbak::emulator {
namespace {

std::string ToHex(const unsigned char *bytes, size_t length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (size_t i = 0; i < length; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

std::string DigestHex(const EVP_MD *md, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, md, nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  return ToHex(digest, length);
}

}  // namespace

std::string Sha1Hex(std::string_view data) { return DigestHex(EVP_sha1(), data); }
std::string Md5Hex(std::string_view data) { return DigestHex(EVP_md5(), data); }

std::string RandomHex(size_t chars) {
  std::vector<unsigned char> bytes((chars + 1) / 2);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return ToHex(bytes.data(), bytes.size()).substr(0, chars);
}

}  // namespace dhanbak::emulator

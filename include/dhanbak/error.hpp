// dhanbak::Error — the one exception type for failures that end an operation.
//
// Every error carries a stable code; `main` maps codes to the exit codes of the design
// (0 ok, 1 failed, 2 usage/config, 3 verification/corruption, 4 locked, 5 status alert).
// Network, Service (HTTP 5xx/429/408) and Timeout errors are retryable; everything else is not.
// Messages are lowercase, without a final period, and never contain secrets.
#pragma once

#include <stdexcept>
#include <string>

namespace dhanbak {

enum class ErrorCode : int {
  kInvalidArgument = 1,  // bad command-line usage or bad input value
  kConfig = 2,           // configuration file or secret reference problem
  kNotFound = 3,         // object / backup / database does not exist
  kCorruption = 4,       // stored bytes fail authentication, hash or format checks
  kIo = 5,               // local file system failure
  kNetwork = 6,          // connection failure, reset, timeout (retryable)
  kService = 7,          // remote service temporarily unavailable: 5xx, 429, 408 (retryable)
  kAuth = 8,             // credentials refused or wrong passphrase
  kPg = 9,               // PostgreSQL failure
  kCatalog = 10,         // local catalog failure
  kCrypto = 11,          // OpenSSL failure
  kInternal = 12,        // a bug
  kLocked = 13,          // another run holds the lock
  kVerification = 14,    // a restore or verification found a difference
  kInterrupted = 15,     // SIGINT / SIGTERM
  kPermanent = 16,       // remote service refused the request for good (4xx)
  kStatusAlert = 17,     // `status` found a stale or failed database
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  ErrorCode code() const { return code_; }
  bool retryable() const {
    return code_ == ErrorCode::kNetwork || code_ == ErrorCode::kService;
  }

 private:
  ErrorCode code_;
};

// Process exit code for an error code, as the design's §2 specifies.
int ExitCodeFor(ErrorCode code);

// strerror(err) with a lowercase first letter, as messages are written ("no such file or directory").
std::string ErrnoMessage(int err);

}  // namespace dhanbak

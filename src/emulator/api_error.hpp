#pragma once

#include <stdexcept>
#include <string>

namespace dhanbak::emulator {

// A B2 error reply: rendered as the JSON body {status, code, message} with the same HTTP status.
// Thrown from anywhere inside a call handler; the router turns it into the reply.
struct ApiError : std::runtime_error {
  ApiError(int status_in, std::string code_in, const std::string &message_in)
      : std::runtime_error(message_in), status(status_in), code(std::move(code_in)) {}
  int status;
  std::string code;
};

inline ApiError BadRequest(const std::string &message) { return ApiError(400, "bad_request", message); }
inline ApiError Unauthorized(const std::string &message) { return ApiError(401, "unauthorized", message); }
inline ApiError NotFound(const std::string &message) { return ApiError(404, "not_found", message); }

}  // namespace dhanbak::emulator

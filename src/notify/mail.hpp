// Mail — a notification as a plain-text e-mail through an SMTP relay with libcurl ([notify]
// smtp_url, smtp_user, smtp_password, mail_from, mail_to). smtp:// must upgrade with STARTTLS
// unless the relay is on a loopback address; smtps:// is TLS from the first byte. The
// certificate is always verified (against smtp_ca_file when given).
#pragma once

#include <string>

#include "dhanbak/config.hpp"

namespace dhanbak::notify {

// Sends `body` with `subject` to every mail_to; returns "" or what went wrong (never a secret).
std::string SendMail(const NotifyConfig& config, const std::string& subject, const std::string& body);

// The message as sent (exposed for tests): headers, a blank line, the body, CRLF line ends.
std::string MailMessage(const NotifyConfig& config, const std::string& subject, const std::string& body,
                        const std::string& date, const std::string& message_id);

}  // namespace dhanbak::notify

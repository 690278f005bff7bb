// The machine's host name, for key files, repository locks and notifications ("" if unknown).
#pragma once

#include <string>

namespace dhanbak {
std::string HostName();
}

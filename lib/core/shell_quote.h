#pragma once
// A word quoted for POSIX shells: wrapped in single quotes, each ' written as '\''.
#include <string>

namespace normlab {

std::string shell_quote(const std::string& s);

}  // namespace normlab

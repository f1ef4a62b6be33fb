// POSIX shell quoting (see shell_quote.h).
#include "core/shell_quote.h"

namespace normlab {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace normlab

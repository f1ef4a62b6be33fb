// Whole-text integer and number parsing (contract in parse_number.h):
// std::from_chars for integers (no locale, no whitespace skipping, reports
// overflow), strtod with errno for doubles (ERANGE: overflow or underflow).
#include "core/parse_number.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/errors.h"

namespace normlab {

long long parse_integer(const std::string& text, long long lo, long long hi, const std::string& what) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+' && last - first > 1 && first[1] != '-') ++first;
  long long v = 0;
  const auto [end, ec] = std::from_chars(first, last, v);
  if (end != last || first == last || (ec != std::errc() && ec != std::errc::result_out_of_range))
    throw ConfigError(fmt::format("{}: '{}' is not an integer (allowed: {} to {})", what, text, lo, hi));
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw ConfigError(fmt::format("{}: '{}' is out of range (allowed: {} to {})", what, text, lo, hi));
  return v;
}

double parse_finite(const std::string& text, const std::string& what, const std::string& allowed) {
  const bool blank = text.empty() || std::isspace(static_cast<unsigned char>(text[0]));
  char* end = nullptr;
  errno = 0;
  const double v = blank ? 0 : std::strtod(text.c_str(), &end);
  if (blank || end != text.c_str() + text.size() || text.find('\0') != std::string::npos)
    throw ConfigError(fmt::format("{}: '{}' is not a number (allowed: {})", what, text, allowed));
  if (errno == ERANGE)  // a number, but too small or too large for a double
    throw ConfigError(fmt::format("{}: '{}' is out of range (a number's magnitude must be 0 or between "
                                  "2.2e-308 and 1.8e+308; allowed: {})", what, text, allowed));
  if (!std::isfinite(v))
    throw ConfigError(fmt::format("{}: '{}' is not a finite number (allowed: {})", what, text, allowed));
  return v;
}

void refuse_control_chars(const std::string& s, const std::string& what) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      throw ConfigError(fmt::format("{}: the value holds a control character (byte 0x{:02x}); "
                                    "newlines, carriage returns, NUL and other control characters are "
                                    "not allowed", what, c));
}

}  // namespace normlab

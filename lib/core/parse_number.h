#pragma once
// Whole-text number parsing for every number a user types (options, keys,
// shard specs): the whole text must be the number, no trailing characters, and
// a value outside the allowed range is refused, never clamped or wrapped.
#include <string>

namespace normlab {

// An integer in [lo, hi], optionally with a leading '+' or '-'. Throws
// ConfigError "WHAT: 'TEXT' is not an integer (allowed: LO to HI)" or
// "WHAT: 'TEXT' is out of range (allowed: LO to HI)".
long long parse_integer(const std::string& text, long long lo, long long hi, const std::string& what);

// A finite double (strtod syntax, whole text). Throws ConfigError "WHAT: 'TEXT'
// is not a finite number (allowed: ALLOWED)", or "... is out of range" when
// its magnitude is outside what a double holds (overflow or underflow).
double parse_finite(const std::string& text, const std::string& what, const std::string& allowed);

// Throws ConfigError "WHAT: ... holds a control character" when s holds a byte
// below 0x20 or 0x7f (newline, carriage return, NUL, tab, escape ...).
void refuse_control_chars(const std::string& s, const std::string& what);

}  // namespace normlab

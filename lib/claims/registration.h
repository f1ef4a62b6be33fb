#pragma once
// A registered rule: before a claim's first run, `normlab claims` writes the hash
// of its rule and settings into the claim's manifest.json; results are evaluated
// only under that rule, or under a rule the claim file's amendments lead to.
//
//   [[amendment]]                   # one entry per change made after results were seen
//   date = "2026-12-01"             # YYYY-MM-DD (a TOML date or a string)
//   what = "margin 0 -> -0.01"      # what changed
//   why = "..."                     # why
//   replaced = "inconclusive"       # the verdict the change replaced
//   from_hash = "0123456789abcdef"  # the rule hash before the change
//   to_hash = "fedcba9876543210"    # and after it
//
// The rule hash is the first 16 hex digits of the SHA-256 of the canonical text
// of the parsed claim: every [claim] and [rule] field that decides a verdict
// (not the statement, source or rule text, nor comments, spelling or layout;
// not the amendments) and each profile's grid hash, which covers every run key,
// seed, include and exclude. Two files that parse alike hash alike.
//
// manifest.json of a claim's folder holds
//   "rule_registration": { "hash": H, "registered": UTC, "legacy": false }
// legacy = true: a folder from before rules were registered, registered at an
// evaluation with --accept-unregistered, after its results; claims.md says so.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "claims/rule.h"

namespace normlab {

// The rule hash (see above). `grids`: profile -> that profile's grid hash.
std::string rule_hash(const ClaimRule& rule, const std::map<std::string, std::string>& grids);
// The canonical text the hash is taken of (one `key=value` line per field).
std::string rule_canonical_text(const ClaimRule& rule, const std::map<std::string, std::string>& grids);

// The amendments, in order, whose from_hash -> to_hash steps lead from `from` to `to`
// (empty when from == to). `found` is false when no chain does.
std::vector<Amendment> amendment_chain(const std::vector<Amendment>& amendments, const std::string& from,
                                       const std::string& to, bool& found);

struct Registration {
  std::string hash;         // "" : none recorded (a folder from before registration)
  std::string registered;   // UTC time of the registration
  bool legacy = false;      // registered after its results (--accept-unregistered)
};

// The manifest's rule_registration (an empty Registration when it has none).
// Throws ConfigError naming `path` when the entry is malformed.
Registration read_registration(const nlohmann::json& manifest, const std::string& path);
nlohmann::json registration_json(const Registration& r);

// What evaluation may use: the folder's registration checked against the claim
// file's current hash. Throws ConfigError (exit 2) naming the claim file, the
// folder's manifest, both hashes and the [[amendment]] entry that would record
// the change, when the hashes differ and no chain of amendments covers it; or,
// unless accept_unregistered, when the folder has no registration.
struct RuleStatus {
  std::string current;               // the claim file's hash now
  Registration registered;           // the folder's (after --accept-unregistered: legacy)
  std::vector<Amendment> applied;    // the amendments from the registered hash to the current one
};
RuleStatus check_registration(const std::string& claim_file, const ClaimRule& rule, const std::string& manifest_path,
                              const Registration& reg, const std::string& current, bool accept_unregistered);

}  // namespace normlab
